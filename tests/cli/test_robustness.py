"""Bad input, internal errors, interrupts, huge values, saturation, kinks and the size guard:
every command answers with an exit status and a message, never a crash."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from percgrad.cli.app import app

pytestmark = pytest.mark.cli


COMMANDS = ("single", "multi", "vanish")
UNITS = {"B": 1, "kB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "PB": 2**50}


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, [*args, "--device", "cpu"] if "--device" not in args else
                              list(args), env=env)


def assert_clean_refusal(result, option: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout[-500:], result.stderr,
                                   repr(result.exception))
    both = result.stdout + result.stderr
    assert "Traceback" not in both
    assert result.stderr.strip(), "no message on stderr"
    assert option in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) <= 8, result.stderr
    assert result.stdout == ""


# ---------------------------------------------------------------- bad input

SHARED_BAD = [
    (("--gain", "1e400"), "--gain"),  # parses to inf
    (("--gain", "inf"), "--gain"),
    (("--gain", "nan"), "--gain"),
    (("--gain", "0"), "--gain"),
    (("--gain", "-1"), "--gain"),
    (("--tolerance", "-1"), "--tolerance"),
    (("--tolerance", "nan"), "--tolerance"),
    (("--tolerance", "0"), "--tolerance"),
    (("--dtype", "float16"), "--dtype"),
    (("--activation", "foo"), "--activation"),
    (("--init", "foo"), "--init"),
    (("--loss", "foo"), "--loss"),
    (("--check", "foo"), "--check"),
    (("--seed", "-5"), "--seed"),
    (("--seed", str(2**63)), "--seed"),
    (("--seed", "abc"), "--seed"),
    (("--target", "abc"), "--target"),
    (("--target", ""), "--target"),
    (("--target", "1,,2"), "--target"),
    (("--target", "nan"), "--target"),
    (("--batch", "0"), "--batch"),
    (("--batch", "-2"), "--batch"),
    (("--batch", "two"), "--batch"),
    (("--loss", "bce", "--activation", "tanh"), "--loss"),
    (("--loss", "bce", "--target", "2"), "--target"),
    (("--max-memory", "garbage"), "--max-memory"),
    (("--max-memory", "0"), "--max-memory"),
    (("--max-memory", "-1G"), "--max-memory"),
    (("--max-memory", ""), "--max-memory"),
    (("--max-memory", "12X"), "--max-memory"),
    (("--device", "tpu"), "--device"),
    (("--device", ""), "--device"),
    (("--device", "cuda:x"), "--device"),
    (("--nonsense",), "--nonsense"),
]

SPECIFIC_BAD = [
    ("vanish", ("--depth", "0"), "--depth"),
    ("vanish", ("--depth", "-3"), "--depth"),
    ("vanish", ("--width", "0"), "--width"),
    ("vanish", ("--width", "-1"), "--width"),
    ("vanish", ("--depth", "1.5"), "--depth"),
    ("vanish", ("--lr", "nan", "--steps", "5"), "--lr"),
    ("vanish", ("--lr", "0", "--steps", "5"), "--lr"),
    ("vanish", ("--steps", "-1"), "--steps"),
    ("vanish", ("--compare", "foo"), "--compare"),
    ("vanish", ("--compare-init", ""), "--compare-init"),
    ("single", ("--x", "1,,2"), "--x"),
    ("multi", ("--x", "1,,2"), "--x"),
    ("single", ("--x", "abc"), "--x"),
    ("multi", ("--x", "abc"), "--x"),
    ("single", ("--x", "1,nan,2"), "--x"),
    ("single", ("--x", "1e400"), "--x"),
    ("multi", ("--x", "1,2;3"), "--x"),
    ("single", ("--x", "1,2", "--batch", "3"), "--x"),
    ("single", ("--x", "1,2", "--inputs", "3"), "--x"),
    ("single", ("--w", "1,2", "--x", "1,2,3"), "--w"),
    ("single", ("--w", ""), "--w"),
    ("single", ("--inputs", "0"), "--inputs"),
    ("multi", ("--inputs", "-4"), "--inputs"),
    ("multi", ("--outputs", "0"), "--outputs"),
    ("multi", ("--hidden", "3,0"), "--hidden"),
    ("multi", ("--hidden", "a,b"), "--hidden"),
    ("multi", ("--hidden", "-2"), "--hidden"),
    ("multi", ("--target", "1,2", "--outputs", "3"), "--target"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("args", "option"), SHARED_BAD)
def test_bad_shared_option_exits_2(command: str, args: tuple[str, ...], option: str) -> None:
    assert_clean_refusal(invoke(command, *args), option)


@pytest.mark.parametrize(("command", "args", "option"), SPECIFIC_BAD)
def test_bad_command_option_exits_2(command: str, args: tuple[str, ...], option: str) -> None:
    assert_clean_refusal(invoke(command, *args), option)


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_cuda_device_exits_2(command: str) -> None:
    if torch.cuda.is_available() and torch.cuda.device_count() > 7:
        pytest.skip("cuda:7 exists here")
    assert_clean_refusal(invoke(command, "--device", "cuda:7"), "--device")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
@pytest.mark.parametrize("command", COMMANDS)
def test_cuda_without_cuda_exits_2(command: str) -> None:
    result = invoke(command, "--device", "cuda")
    assert_clean_refusal(result, "--device")
    assert "cuda" in result.stderr


# ---------------------------------------------------------------- internal errors


def _boom(*args, **kwargs):
    raise RuntimeError("boom")


def _patch_engine(monkeypatch: pytest.MonkeyPatch, command: str, fn) -> None:
    if command == "vanish":
        monkeypatch.setattr("percgrad.engines.vanish.run_vanish", fn)
    else:
        monkeypatch.setattr("percgrad.engines.perceptron.run", fn)


@pytest.mark.parametrize("command", COMMANDS)
def test_internal_error_without_debug(monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    _patch_engine(monkeypatch, command, _boom)
    result = invoke(command)
    assert result.exit_code == 3
    assert "internal error" in result.stderr
    assert "RuntimeError: boom" in result.stderr
    assert "--debug" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("how", ["flag", "env"])
def test_internal_error_with_debug_lets_it_through(monkeypatch: pytest.MonkeyPatch, command: str,
                                                   how: str) -> None:
    _patch_engine(monkeypatch, command, _boom)
    result = (invoke(command, "--debug") if how == "flag"
              else invoke(command, env={"PERCGRAD_DEBUG": "1"}))
    assert isinstance(result.exception, RuntimeError)
    assert str(result.exception) == "boom"
    assert result.exit_code not in (0, 2, 3)


def test_debug_env_zero_means_off(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch_engine(monkeypatch, "single", _boom)
    result = invoke("single", env={"PERCGRAD_DEBUG": "0"})
    assert result.exit_code == 3


def test_debug_traceback_reaches_stderr_of_the_real_program() -> None:
    code = (
        "import percgrad.engines.perceptron as e\n"
        "def boom(*a, **k):\n    raise RuntimeError('boom')\n"
        "e.run = boom\n"
        "import sys\nfrom percgrad.cli.app import main\n"
        "sys.argv = ['percgrad', 'single', '--device', 'cpu'] + sys.argv[1:]\nmain()\n"
    )
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PERCGRAD_DEBUG", None)
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           timeout=120)
    loud = subprocess.run([sys.executable, "-c", code, "--debug"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert quiet.returncode == 3
    assert "Traceback" not in quiet.stderr and "internal error" in quiet.stderr
    assert loud.returncode == 1
    assert "Traceback" in loud.stderr
    assert "RuntimeError: boom" in loud.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_keyboard_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    _patch_engine(monkeypatch, command, interrupt)
    result = invoke(command)
    assert result.exit_code == 130
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Interrupted" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "exc", [MemoryError(), RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")]
)
@pytest.mark.parametrize("command", COMMANDS)
def test_out_of_memory_is_bad_input(monkeypatch: pytest.MonkeyPatch, command: str,
                                    exc: BaseException) -> None:
    def oom(*args, **kwargs):
        raise exc

    _patch_engine(monkeypatch, command, oom)
    result = invoke(command)
    assert result.exit_code == 2
    assert "out of memory" in result.stderr
    assert "--width" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# ---------------------------------------------------------------- huge values and saturation


def _json(result) -> dict:
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr, repr(result.exception))
    assert "Traceback" not in result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ("single", "--x", "1e30,1e30,1e30"),
        ("multi", "--x", "1e30,-1e30,1e30"),
        ("single", "--gain", "1e30"),
        ("multi", "--gain", "1e30"),
        ("vanish", "--gain", "1e30"),
        ("multi", "--gain", "1e30", "--activation", "identity", "--hidden", "4,4"),
        ("vanish", "--gain", "1e30", "--activation", "relu", "--width", "3"),
        ("single", "--x", "1e30,1e30,1e30", "--activation", "identity", "--dtype", "float64"),
        ("single", "--x", "1e300,1e300,1e300", "--activation", "gelu", "--dtype", "float64"),
        ("multi", "--x", "1e38,1e38,1e38", "--activation", "tanh", "--bias"),
    ],
)
def test_huge_values_never_crash(args: tuple[str, ...]) -> None:
    doc = _json(invoke(*args, "--json"))
    if doc["finite"] is False:
        assert doc["first_nonfinite"]
        assert doc["check"]["passed"] is None
        assert any("non-finite" in w for w in doc["warnings"])
    text = invoke(*args)
    assert text.exit_code in (0, 1)
    assert "Traceback" not in text.stdout + text.stderr
    if doc["finite"] is False:
        assert text.exit_code == 0
        assert "not applicable" in text.stdout


def test_identity_overflow_is_reported_non_finite() -> None:
    doc = _json(invoke("multi", "--gain", "1e30", "--activation", "identity", "--hidden", "4,4",
                       "--json"))
    assert doc["finite"] is False
    assert doc["first_nonfinite"].startswith("layer 2")


@pytest.mark.parametrize(("x", "target"), [("100,100,100", "1"), ("-100,-100,-100", "1"),
                                           ("100,100,100", "0")])
def test_bce_saturated_outputs_give_a_finite_loss(x: str, target: str) -> None:
    doc = _json(invoke("single", "--loss", "bce", "--x", f"={x}" if x.startswith("-") else x,
                       "--w", "100,100,100", "--target", target, "--dtype", "float32", "--json")
                if not x.startswith("-") else
                invoke("single", "--loss", "bce", f"--x={x}", "--w", "100,100,100",
                       "--target", target, "--dtype", "float32", "--json"))
    assert doc["loss"] is not None
    a = 100.0 * sum(float(v) for v in x.split(","))
    t = float(target)
    # BCE from the logit a: softplus(a) − t·a, computed stably
    expected = max(a, 0.0) + np.log1p(np.exp(-abs(a))) - t * a
    assert doc["loss"] == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert doc["finite"] is True
    if all(g == 0 for g in doc["layers"][0]["grad"]["analytic"][0]):
        # σ(300) = 1 = t exactly: δ = o − t = 0, every gradient 0, nothing to check
        assert doc["check"]["passed"] is None and doc["check"]["vacuous"]
    else:
        assert doc["check"]["passed"] is True


def test_relu_kink_is_left_out_of_the_check() -> None:
    # a = 1·1 + (−1)·1 + 0·5 = 0 exactly: moving w₀ or w₁ by ±ε crosses relu's kink.
    result = invoke("single", "--activation", "relu", "--x=1,-1,0", "--w", "1,1,5", "--json")
    doc = _json(result)
    assert result.exit_code == 0
    assert doc["check"]["passed"] is None and doc["check"]["vacuous"]  # relu′(0) = 0: all zero
    assert doc["check"]["kinks"] >= 2
    assert doc["layers"][0]["numeric_kinks"] >= 2
    assert any("kink" in w for w in doc["warnings"])


def test_relu_at_zero_input_passes() -> None:
    result = invoke("single", "--activation", "relu", "--x", "0,0,0", "--w", "1,1,1", "--json")
    doc = _json(result)
    assert result.exit_code == 0
    assert doc["check"]["passed"] is None and doc["check"]["vacuous"]  # x = 0: all gradients 0
    assert doc["layers"][0]["numeric_rel_error"] is not None or doc["check"]["kinks"] > 0


def test_relu_kink_fast_check_marks_the_direction() -> None:
    doc = _json(invoke("single", "--activation", "relu", "--x=1,-1,0", "--w", "1,1,5",
                       "--check", "fast", "--json"))
    assert doc["check"]["passed"] is None and doc["check"]["vacuous"]
    kinked = [d for d in doc["check"]["directions"] if d["kink"]]
    assert len(kinked) == doc["check"]["kinks"] >= 1


# ---------------------------------------------------------------- the size guard


def _estimate_bytes(message: str) -> float:
    m = re.search(r"needs about ([0-9.,e+]+) (B|kB|MB|GB|TB|PB)", message)
    assert m, message
    return float(m.group(1).replace(",", "")) * UNITS[m.group(2)]


def test_size_guard_refuses_a_huge_chain_quickly() -> None:
    start = time.perf_counter()
    result = invoke("vanish", "--depth", "100000", "--width", "100000")
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0
    assert result.exit_code == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert any(unit in result.stderr for unit in ("GB", "TB", "PB"))
    assert "--depth" in result.stderr and "--width" in result.stderr
    # at least the float32 weights themselves: depth·width²·4 bytes
    need = _estimate_bytes(result.stderr)
    weights = 100000 * 100000**2 * 4
    assert weights * 0.99 <= need <= weights * 20


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("multi", "--inputs", "100000", "--outputs", "100000", "--hidden", "100000"),
         ("--inputs", "--outputs")),
        (("single", "--inputs", "3000000000"), ("--inputs",)),
        (("vanish", "--width", "200000", "--depth", "3", "--dtype", "float64"), ("--width",)),
    ],
)
def test_size_guard_on_every_command(args: tuple[str, ...], names: tuple[str, ...]) -> None:
    start = time.perf_counter()
    result = invoke(*args)
    assert time.perf_counter() - start < 5.0
    assert result.exit_code == 2, (result.stderr, repr(result.exception))
    assert re.search(r"\d (MB|GB|TB)", result.stderr), result.stderr
    for name in names:
        assert name in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_max_memory_refuses_a_run_that_needs_more(command: str) -> None:
    sizes = {"single": ("--inputs", "200000"), "multi": ("--inputs", "300", "--outputs", "300"),
             "vanish": ("--width", "300")}[command]
    result = invoke(command, *sizes, "--max-memory", "1M")
    assert result.exit_code == 2, result.stderr
    assert "--max-memory" in result.stderr
    assert "1 MB" in result.stderr
    assert _estimate_bytes(result.stderr) > 2**20


@pytest.mark.parametrize("size", ["10G", "10g", "10GB", "10GiB", "10240M", "10737418240", "0.5T"])
def test_max_memory_lets_a_small_run_through(size: str) -> None:
    result = invoke("vanish", "--depth", "10", "--max-memory", size)
    assert result.exit_code == 0, result.stderr


def test_max_memory_also_limits_training() -> None:
    # --check off: weights 300·300·10·4 B = 3.4 MB, twice that when training
    assert invoke("vanish", "--width", "300", "--check", "off", "--max-memory", "12M").exit_code == 0
    result = invoke("vanish", "--width", "300", "--check", "off", "--steps", "2",
                    "--max-memory", "12M")
    assert result.exit_code == 2, result.stderr
    assert "--max-memory" in result.stderr


def test_max_memory_refuses_a_comparison() -> None:
    result = invoke("vanish", "--compare", "sigmoid,tanh", "--width", "300", "--max-memory", "1M")
    assert result.exit_code == 2
    assert "--max-memory" in result.stderr


def test_size_guard_uses_the_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("percgrad.engines.perceptron.available_bytes", lambda device: 100)
    result = invoke("vanish", "--depth", "3")
    assert result.exit_code == 2
    assert "free" in result.stderr
    assert "--max-memory" in result.stderr
    # an explicit --max-memory overrides what is free
    assert invoke("vanish", "--depth", "3", "--max-memory", "1G").exit_code == 0
    # when the free memory cannot be told, nothing is refused
    monkeypatch.setattr("percgrad.engines.perceptron.available_bytes", lambda device: None)
    assert invoke("vanish", "--depth", "3").exit_code == 0


# ---------------------------------------------------------------- performance


def test_quadrature_nodes_are_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Regression: hermegauss(127) (an eigenvalue problem, 10–25 ms) used to run on every
    # expectation, 2·depth times per theory and again per advice candidate: `vanish --depth 1000
    # --width 1` took ~3 minutes.
    hermite = np.polynomial.hermite_e
    original = hermite.hermegauss
    calls = []

    def counting(n):
        calls.append(n)
        return original(n)

    monkeypatch.setattr(hermite, "hermegauss", counting)
    assert invoke("vanish", "--depth", "10").exit_code == 0
    assert len(calls) <= 2, f"{len(calls)} quadratures computed for one run of 10 layers"


# ---------------------------------------------------------------- errors while writing output


def test_out_of_memory_while_writing_json(monkeypatch: pytest.MonkeyPatch) -> None:
    def oom(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("percgrad.reports.run.to_json", oom)
    result = invoke("vanish", "--depth", "3", "--json")
    assert result.exit_code == 2
    assert "out of memory" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_internal_error_while_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    from percgrad.views import show

    monkeypatch.setitem(show.RUN_VIEWS, "vanish", _boom)
    result = invoke("vanish", "--depth", "3")
    assert result.exit_code == 3
    assert "internal error" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# ---------------------------------------------------------------- deep narrow chains


def _stop_at_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anything that gets past the size guard stops here instead of running for hours."""
    from percgrad.errors import PercgradError

    def reached(*args, **kwargs):
        raise PercgradError("the size guard let this run through", "--sentinel")

    monkeypatch.setattr("percgrad.engines.perceptron.build_net", reached)


def test_size_guard_counts_per_layer_overhead(monkeypatch: pytest.MonkeyPatch) -> None:
    _stop_at_build(monkeypatch)
    start = time.perf_counter()
    result = invoke("vanish", "--depth", "10000000", "--width", "1")
    assert time.perf_counter() - start < 10
    assert result.exit_code == 2
    assert "needs about" in result.stderr, result.stderr
    assert "--depth" in result.stderr


# ---------------------------------------------------------------- tiny gradients in float64


def test_tiny_float64_deltas_do_not_crash() -> None:
    result = invoke("vanish", "--depth", "3", "--dtype", "float64", "--gain", "1e-170", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["layers"][0]["measured_factor"] is None or doc["layers"][0]["measured_factor"] >= 0


def _scaled_norm(values) -> float:
    a = np.abs(np.asarray(values, dtype=np.float64))
    m = a.max()
    return 0.0 if m == 0 else float(m * np.sqrt(np.sum((a / m) ** 2)))


def test_tiny_float64_norms_are_not_flushed_to_zero() -> None:
    doc = _json(invoke("vanish", "--width", "4", "--depth", "4", "--dtype", "float64",
                       "--gain", "1e-170", "--tensors", "--json"))
    for layer in doc["layers"]:
        grad = layer["grad"]["autograd"]
        assert layer["grad_norm"] == pytest.approx(_scaled_norm(grad), rel=1e-9, abs=0)
    # δ₃ ≈ 1e-171 is tiny but not 0; δ₂ ≈ 1e-341 really is below float64's range.
    assert doc["layers"][2]["delta_norm"] > 0
    assert doc["layers"][1]["delta_norm"] == 0
    assert any("underflows to exactly 0 in layers 1–2" in w for w in doc["warnings"])


@pytest.mark.parametrize("gain", ["1e160", "1e308"])
def test_vanish_with_an_astronomical_gain(gain: str) -> None:
    result = invoke("vanish", "--gain", gain, "--json")
    assert result.exit_code in (0, 1), result.stderr
    json.loads(result.stdout)


@pytest.mark.parametrize("command", ["single", "multi"])
def test_astronomical_gain_without_theory(command: str) -> None:
    _json(invoke(command, "--gain", "1e308", "--json"))


# ---------------------------------------------------------------- saturated neurons


def test_saturated_float64_neuron_passes_the_check() -> None:
    args = ("single", "--dtype", "float64", "--x", "2.03,2.27,0", "--w", "2.03,2.27,0", "--json")
    result = invoke(*args)
    doc = json.loads(result.stdout)
    x = np.array([2.03, 2.27, 0.0])
    o = 1.0 / (1.0 + np.exp(-(x @ x)))
    exact = 2 * (o - 1) * o * (1 - o) * x  # ∂E/∂w for E = (σ(x·w) − 1)², w = x
    assert np.array(doc["layers"][0]["grad"]["analytic"])[0] == pytest.approx(exact, rel=1e-12)
    assert result.exit_code == 0, doc["check"]["failures"]
