"""`percgrad check`: a readable gradcheck of the user's function. Its verdict must agree with
torch.autograd.gradcheck on every function here (full vs fast_mode=False, fast vs
fast_mode=True); it names the worst entry and the step that settled it; TARGET and the options
are refused with one message naming them."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function
from typer.testing import CliRunner

import percgrad
from percgrad.cli.app import app
from percgrad.engines.user_code import parameter_names, resolve_function
from percgrad.errors import PercgradError
from percgrad.gradcheck.function import unit_directions, worst_entry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


# ---------------------------------------------------------------- the test functions


class LinearTanh(Function):
    """tanh(x @ w), right."""

    @staticmethod
    def forward(ctx, x, w):  # type: ignore[override]
        y = torch.tanh(x @ w)
        ctx.save_for_backward(x, w, y)
        return y

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, w, y = ctx.saved_tensors
        d = g * (1 - y * y)
        return d @ w.t(), x.t() @ d


class IgnoresGradOutput(LinearTanh):
    """As if the output's gradient were all ones: right only for E = Σ y."""

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, w, y = ctx.saved_tensors
        d = torch.ones_like(g) * (1 - y * y)
        return d @ w.t(), x.t() @ d


class WrongSign(LinearTanh):
    """The weight's gradient with the wrong sign."""

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, w, y = ctx.saved_tensors
        d = g * (1 - y * y)
        return d @ w.t(), -(x.t() @ d)


class SlightlyOff(LinearTanh):
    """1% too large for x: above both tolerances (gradcheck's rtol is 1e-3)."""

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, w, y = ctx.saved_tensors
        d = g * (1 - y * y)
        return 1.01 * (d @ w.t()), x.t() @ d


class ConstantOffset(Function):
    """x ⊙ w for two 4-vectors; the gradient of w has 0.1 added to every entry (a structured
    error that random sign directions can cancel)."""

    @staticmethod
    def forward(ctx, x, w):  # type: ignore[override]
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, w = ctx.saved_tensors
        return g * w, g * x + 0.1


class TwoOutputs(Function):
    """(sin x, x ⊙ y), right."""

    @staticmethod
    def forward(ctx, x, y):  # type: ignore[override]
        ctx.save_for_backward(x, y)
        return torch.sin(x), x * y

    @staticmethod
    def backward(ctx, g1, g2):  # type: ignore[override]
        x, y = ctx.saved_tensors
        return g1 * torch.cos(x) + g2 * y, g2 * x


class TwoOutputsBad(TwoOutputs):
    """The second output's gradient for y forgets x."""

    @staticmethod
    def backward(ctx, g1, g2):  # type: ignore[override]
        x, y = ctx.saved_tensors
        return g1 * torch.cos(x) + g2 * y, g2


class ModernSoftplus(Function):
    """softplus with setup_context and a vmap rule: torch.func.vmap batches it."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x):  # type: ignore[override]
        return F.softplus(x)

    @staticmethod
    def setup_context(ctx, inputs, output):  # type: ignore[override]
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return g * torch.sigmoid(x)


class ModernSoftplusBad(ModernSoftplus):
    """Its backward uses softplus′ = softplus (wrong)."""

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return g * F.softplus(x)


def plain_mix(x: Tensor, y: Tensor) -> Tensor:
    return (torch.sin(x) * y).sum(dim=0)


def relu_net(x: Tensor, w: Tensor) -> Tensor:
    return torch.relu(x @ w)


def exp_big(x: Tensor) -> Tensor:
    return torch.exp(3 * x)


def ignores_second(x: Tensor, y: Tensor) -> Tensor:
    return 2 * x


def _bad_function() -> Callable[..., Tensor]:
    fn, _ = resolve_function(f"{EXAMPLES / 'bad_function.py'}:ScaledSoftplus")
    return fn


CASES: list[tuple[str, Callable[..., Tensor], list[tuple[int, ...]], bool]] = [
    ("plain tanh(x@w)", lambda x, w: torch.tanh(x @ w), [(3, 4), (4, 5)], True),
    ("LinearTanh", LinearTanh.apply, [(3, 4), (4, 5)], True),
    ("IgnoresGradOutput", IgnoresGradOutput.apply, [(3, 4), (4, 5)], False),
    ("WrongSign", WrongSign.apply, [(3, 4), (4, 5)], False),
    ("SlightlyOff", SlightlyOff.apply, [(3, 4), (4, 5)], False),
    ("ConstantOffset", ConstantOffset.apply, [(4,), (4,)], False),
    ("TwoOutputs", TwoOutputs.apply, [(5,), (5,)], True),
    ("TwoOutputsBad", TwoOutputsBad.apply, [(5,), (5,)], False),
    ("ModernSoftplus", ModernSoftplus.apply, [(2, 3)], True),
    ("ModernSoftplusBad", ModernSoftplusBad.apply, [(2, 3)], False),
    ("plain_mix", plain_mix, [(3, 4), (3, 4)], True),
    ("relu_net", relu_net, [(4, 3), (3, 6)], True),
    ("exp_big", exp_big, [(6,)], True),
    ("ignores_second", ignores_second, [(3,), (2,)], True),
    ("examples/bad_function.py:ScaledSoftplus", _bad_function(), [(3, 4), (4,)], False),
]


def _inputs(shapes: list[tuple[int, ...]], seed: int = 3) -> list[Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]


@pytest.mark.parametrize("mode", ["full", "fast"])
@pytest.mark.parametrize(("name", "fn", "shapes", "right"), CASES, ids=[c[0] for c in CASES])
def test_verdict_agrees_with_gradcheck(name, fn, shapes, right, mode):
    xs = _inputs(shapes)
    report = percgrad.check(fn, *xs, check=mode)
    theirs = torch.autograd.gradcheck(
        fn, tuple(x.clone().requires_grad_(True) for x in xs), fast_mode=mode == "fast",
        raise_exception=False)
    assert report.check.method == mode
    assert report.check.passed is bool(theirs) is right, (report.check, theirs)


def test_the_worst_entry_names_the_input_with_the_wrong_backward():
    report = percgrad.check(f"{EXAMPLES / 'bad_function.py'}:ScaledSoftplus", shapes="3x4,4",
                            check="full")
    groups = {g.name: g for g in report.check.groups}
    assert set(groups) == {"x", "w"}
    assert groups["x"].passed and groups["x"].rel_error < 1e-8
    w = groups["w"]
    assert w.passed is False and w.worst is not None
    assert w.worst.name.startswith("w[")
    assert report.settings["shapes"] == [[3, 4], [4]]
    # a disagreement is confirmed by two steps that agree with each other, not with autograd
    assert w.worst.settled is not None and not w.worst.agreed and len(w.worst.ladder) >= 2
    pair = w.worst.ladder[w.worst.settled:w.worst.settled + 2]
    assert abs(pair[0].value - pair[1].value) < 1e-6 * abs(w.worst.numeric)
    assert w.worst.rel_error > 0.1


def test_numbers_are_the_gradient_of_v_dot_f():
    """The analytic side is autograd's ∂(v·f)/∂x for the reported cotangent, and the numeric
    side matches the hand-computed derivative of softplus(x)·w."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    w = torch.randn(4, generator=gen, dtype=torch.float64)
    def scaled(x: Tensor, w: Tensor) -> Tensor:
        return F.softplus(x) * w

    report = percgrad.check(scaled, x, w, check="full")
    assert report.check.passed
    assert report.values, "full check of small inputs keeps every entry"
    from percgrad.engines.user_data import random_tensor
    from percgrad.gradcheck.function import COTANGENT_SALT

    v = random_tensor((3, 4), 0, torch.float64, salt=COTANGENT_SALT)
    by_name = {item["name"]: item for item in report.values}
    expected_w = (v * F.softplus(x)).sum(0)
    expected_x = v * w * torch.sigmoid(x)
    numeric_w = torch.tensor(by_name["w"]["numeric"], dtype=torch.float64)
    analytic_x = torch.tensor(by_name["x"]["analytic"], dtype=torch.float64)
    assert torch.allclose(numeric_w, expected_w, rtol=1e-8, atol=1e-10)
    assert torch.allclose(analytic_x, expected_x.reshape(-1))


def test_kink_is_left_out_and_counted():
    """relu at exactly 0: autograd takes relu′(0) = 0, the central difference the mean ½ at
    every step; that is no derivative, so it is left out and counted (gradcheck fails here)."""
    x = torch.tensor([0.0, 0.7, -1.3], dtype=torch.float64)
    report = percgrad.check(torch.relu, x, check="full")
    assert report.check.kinks == 1
    assert report.check.passed is True
    assert report.check.groups[0].judged == 2


def test_a_kink_where_autograd_takes_the_mean_needs_no_exclusion():
    """abs at 0: autograd's 0 is the central difference's 0 too, so it simply agrees."""
    x = torch.tensor([0.0, 0.7, -1.3], dtype=torch.float64)
    report = percgrad.check(torch.abs, x, check="full")
    assert report.check.kinks == 0 and report.check.passed is True


def test_float32_is_judged_at_float32_tolerance():
    x, w = _inputs([(3, 4), (4, 5)])
    report = percgrad.check(LinearTanh.apply, x, w, dtype="float32")
    assert report.check.tolerance == 1e-3
    assert report.check.passed is True


def test_a_nondeterministic_function_is_not_a_failure():
    (x,) = _inputs([(5,)])
    report = percgrad.check(lambda t: t * torch.rand(()), x)
    assert report.check.passed is None
    assert report.check.reason == "nondeterministic"
    assert not report.failed


def test_gaussian_directions_see_a_structured_error():
    """A constant added to every entry hides from some sign vectors, never from Gaussian ones."""
    dirs = unit_directions([(4,)], seed=0, device=torch.device("cpu"))
    u = dirs[0].dense(torch.Size([4]))
    assert float(u.norm()) == pytest.approx(1.0)
    assert abs(float(u.sum())) > 1e-3


def test_worst_entry_rule_matches_comparison():
    a = torch.tensor([1.0, 2.0, 3.0])
    n = torch.tensor([1.0, 2.5, 3.0])
    max_abs, rel, flat = worst_entry(a, n, None, 1e-12)
    assert (max_abs, flat) == (0.5, 1)
    assert rel == pytest.approx(0.5 / 3.0)


def test_parameter_names_of_functions_and_autograd_functions():
    assert parameter_names(plain_mix, 2) == ["x", "y"]
    assert parameter_names(LinearTanh.apply, 2) == ["x", "w"]
    assert parameter_names(ModernSoftplus.apply, 1) == ["x"]
    assert parameter_names(torch.abs, 1) in (["input"], ["arg0"])


# ---------------------------------------------------------------- the command


def test_cli_names_the_wrong_input_and_exits_1():
    result = invoke("check", f"{EXAMPLES / 'bad_function.py'}:ScaledSoftplus", "--shapes", "3x4,4")
    assert result.exit_code == 1, result.output
    out = " ".join(result.stdout.split())
    assert "FAIL" in out and "w disagrees" in out and "w[" in out
    assert "settled where ε" in out or "agreed with autograd" in out


def test_cli_passes_a_right_function_in_both_modes():
    for mode in ("full", "fast"):
        result = invoke("check", f"{EXAMPLES / 'bad_function.py'}:scaled_softplus", "--shapes",
                        "3x4,4", "--check", mode)
        assert result.exit_code == 0, result.output
        assert "PASS" in result.stdout


def test_cli_json_save_and_plot(tmp_path):
    target = f"{EXAMPLES / 'bad_function.py'}:ScaledSoftplus"
    result = invoke("check", target, "--shapes", "3x4,4", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["command"] == "check" and doc["check"]["passed"] is False
    assert doc["timing"] == {"analytic_s": None, "numeric_s": None}
    assert [i["name"] for i in doc["inputs"]] == ["x", "w"]
    assert "w[" in doc["check"]["sentence"]
    again = json.loads(invoke("check", target, "--shapes", "3x4,4", "--json").stdout)
    assert again == doc, "equal runs give identical documents"
    save, plot = tmp_path / "c.txt", tmp_path / "c.png"
    result = invoke("check", target, "--shapes", "3x4,4", "--save", save, "--plot", plot)
    assert result.exit_code == 1
    assert "Worst entry" in save.read_text(encoding="utf-8")
    assert plot.stat().st_size > 1000


def test_cli_nondeterministic_is_exit_0_with_a_message(tmp_path):
    src = tmp_path / "noisy.py"
    src.write_text("import torch\n\ndef f(x):\n    return x * torch.rand(())\n")
    result = invoke("check", f"{src}:f", "--shapes", "4")
    assert result.exit_code == 0, result.output
    assert "not deterministic" in " ".join(result.stdout.split())


@pytest.mark.parametrize(("args", "option", "words"), [
    (["nocolon", "--shapes", "3"], "TARGET", "is not of the form"),
    (["missing_file.py:f", "--shapes", "3"], "TARGET", "no such file"),
    (["percgrad_no_such_module_xyz:f", "--shapes", "3"], "TARGET", "no module named"),
    (["{bad}:nope", "--shapes", "3"], "TARGET", "has no attribute 'nope'"),
    (["{bad}:scaled_softplus"], "--shapes", "give the inputs' shapes"),
    (["{bad}:scaled_softplus", "--shapes", "3x0"], "--shapes", "not a whole number of at least 1"),
    (["{bad}:scaled_softplus", "--shapes", "3,,4"], "--shapes", "expected sizes"),
    (["{bad}:scaled_softplus", "--shapes", "3xa"], "--shapes", "is not a whole number"),
    (["{bad}:scaled_softplus", "--shapes", "3x4,4", "--tolerance", "-1"], "--tolerance",
     "positive finite"),
    (["{bad}:scaled_softplus", "--shapes", "3x4,5"], "TARGET", "raised RuntimeError"),
    (["{tmp}/const.py:VALUE", "--shapes", "3"], "TARGET", "not a function"),
    (["{tmp}/boom.py:f", "--shapes", "3"], "TARGET", "raised RuntimeError: boom"),
    (["{tmp}/broken.py:f", "--shapes", "3"], "TARGET", "does not compile"),
    (["{tmp}/const.py:text_out", "--shapes", "3"], "TARGET", "no floating-point tensor"),
])
def test_cli_refusals_name_the_option(tmp_path, args, option, words):
    (tmp_path / "const.py").write_text("VALUE = 3\n\ndef text_out(x):\n    return 'no'\n")
    (tmp_path / "boom.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "broken.py").write_text("def f(x:\n")
    subs = {"{bad}": str(EXAMPLES / "bad_function.py"), "{tmp}": str(tmp_path)}
    final = []
    for a in args:
        for k, v in subs.items():
            a = a.replace(k, v)
        final.append(a)
    result = invoke("check", *final)
    assert result.exit_code == 2, result.output
    assert f"Error: {option}:" in result.stderr, result.stderr
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_api_refuses_like_the_cli():
    with pytest.raises(PercgradError) as err:
        percgrad.check(plain_mix)
    assert err.value.option == "--shapes"
    with pytest.raises(PercgradError) as err:
        percgrad.check(plain_mix, *_inputs([(2,), (2,)]), check="sideways")
    assert err.value.option == "--check"


def test_an_autograd_function_class_is_used_through_apply():
    fn, name = resolve_function(LinearTanh)
    assert name == "LinearTanh.apply"
    assert math.isfinite(float(fn(*_inputs([(2, 3), (3, 2)])).sum()))
