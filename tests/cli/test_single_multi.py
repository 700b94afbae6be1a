"""The `single` and `multi` commands through Typer's CliRunner, and `python -m percgrad`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from percgrad.cli.app import app
from percgrad.version import __version__

pytestmark = pytest.mark.cli


runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def run_json(*args: str) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


# ---------------------------------------------------------------- tables


@pytest.mark.parametrize(
    "args",
    [("single", "--inputs", "3"), ("multi", "--inputs", "3", "--outputs", "4")],
    ids=["single", "multi"],
)
def test_tables_show_three_gradients_and_pass(args):
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr + result.stdout
    for word in ("analytic", "autograd", "numeric", "PASS"):
        assert word in result.stdout, word
    assert "FAIL" not in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_multi_with_hidden_layers_names_every_layer():
    result = invoke("multi", "--inputs", "3", "--hidden", "5,4", "--outputs", "2",
                    "--device", "cpu")
    assert result.exit_code == 0, result.stderr + result.stdout
    for name in ("W1", "W2", "W3"):
        assert name in result.stdout
    assert "PASS" in result.stdout


# ---------------------------------------------------------------- JSON

SETTINGS_KEYS = {"inputs", "outputs", "hidden", "activation", "loss", "init", "gain", "bias",
                 "batch", "seed", "device", "dtype", "check"}
LAYER_KEYS = {"name", "shape", "weight", "bias", "grad", "bias_grad", "grad_norm", "delta_norm",
              "max_abs_diff", "rel_error"}
CHECK_KEYS = {"method", "tolerance", "max_rel_error", "passed"}
TIMING_KEYS = {"forward_s", "analytic_s", "autograd_s", "numeric_s"}


@pytest.mark.parametrize(
    "args",
    [
        ("single", "--inputs", "3"),
        ("multi", "--inputs", "3", "--outputs", "4"),
        ("multi", "--inputs", "2", "--hidden", "3,3", "--outputs", "2", "--bias"),
    ],
    ids=["single", "multi", "hidden"],
)
def test_json_has_every_key(args):
    doc = run_json(*args, "--device", "cpu")
    top = {"schema", "command", "version", "settings", "device", "input", "target", "output",
           "loss", "layers", "check", "timing"}
    assert top <= set(doc)
    assert doc["schema"] == 2
    assert doc["command"] == args[0]
    assert doc["version"] == __version__
    assert set(doc["settings"]) >= SETTINGS_KEYS
    assert doc["settings"]["inputs"] == int(args[2])
    assert doc["settings"]["device"] == "cpu"
    assert set(doc["device"]) >= {"type", "name"} and doc["device"]["type"] == "cpu"
    assert doc["layers"]
    for k, layer in enumerate(doc["layers"]):
        assert set(layer) >= LAYER_KEYS, k
        assert layer["name"] == f"W{k + 1}"
        assert set(layer["grad"]) >= {"analytic", "autograd", "numeric"}
        assert np.shape(layer["weight"]) == tuple(layer["shape"])
        for way in ("analytic", "autograd", "numeric"):
            assert np.shape(layer["grad"][way]) == tuple(layer["shape"]), way
        if "--bias" in args:
            assert np.shape(layer["bias"]) == (layer["shape"][0],)
            assert set(layer["bias_grad"]) >= {"analytic", "autograd", "numeric"}
        else:
            assert layer["bias"] is None and layer["bias_grad"] is None
    assert set(doc["check"]) >= CHECK_KEYS
    assert doc["check"]["passed"] is True
    assert doc["check"]["method"] == "full"
    assert set(doc["timing"]) == TIMING_KEYS
    assert all(v is None for v in doc["timing"].values())  # null unless --timing


def test_json_timing_on_request():
    doc = run_json("single", "--device", "cpu", "--timing")
    assert set(doc["timing"]) == TIMING_KEYS
    assert all(isinstance(v, float) and v >= 0 for v in doc["timing"].values())


@pytest.mark.parametrize(
    "args",
    [
        ("single", "--seed", "3"),
        ("multi", "--hidden", "4", "--bias", "--batch", "2", "--activation", "tanh", "--seed", "9"),
    ],
    ids=["single", "multi"],
)
def test_json_is_deterministic(args):
    first = invoke(*args, "--device", "cpu", "--json")
    second = invoke(*args, "--device", "cpu", "--json")
    assert first.exit_code == second.exit_code == 0
    assert first.stdout == second.stdout
    other = invoke(*args[:-1], str(int(args[-1]) + 1), "--device", "cpu", "--json")
    assert other.stdout != first.stdout  # the seed matters


_NP_ACT = {
    "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), lambda a, h: h * (1 - h)),
    "tanh": (np.tanh, lambda a, h: 1 - h * h),
}


def _numpy_gradients(doc: dict):
    """Loss and ∂E/∂W, ∂E/∂b recomputed from input, target and weights alone."""
    phi, dphi = _NP_ACT[doc["settings"]["activation"]]
    x, t = np.array(doc["input"]), np.array(doc["target"])
    ws = [np.array(layer["weight"]) for layer in doc["layers"]]
    bs = [None if layer["bias"] is None else np.array(layer["bias"]) for layer in doc["layers"]]
    hs, pre = [x], []
    for w, b in zip(ws, bs):
        a = hs[-1] @ w.T + (0 if b is None else b)
        pre.append(a)
        hs.append(phi(a))
    o, n = hs[-1], t.size
    if doc["settings"]["loss"] == "mse":
        loss = np.mean((o - t) ** 2)
        delta = 2 * (o - t) / n * dphi(pre[-1], o)
    else:
        loss = -np.mean(t * np.log(o) + (1 - t) * np.log(1 - o))
        delta = (o - t) / n
    g_w, g_b = [None] * len(ws), [None] * len(ws)
    for k in range(len(ws) - 1, -1, -1):
        g_w[k] = delta.T @ hs[k]
        g_b[k] = delta.sum(axis=0)
        if k:
            delta = (delta @ ws[k]) * dphi(pre[k - 1], hs[k])
    return loss, o, g_w, g_b


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), 1e-300))


@pytest.mark.parametrize(
    "args",
    [
        ("single", "--inputs", "4", "--batch", "3", "--bias"),
        ("multi", "--inputs", "3", "--hidden", "5", "--outputs", "2", "--batch", "3", "--bias",
         "--activation", "tanh", "--target", "0.2,-0.3"),
        ("multi", "--inputs", "3", "--hidden", "4,3", "--outputs", "2", "--batch", "2",
         "--loss", "bce", "--target", "0.25"),
    ],
    ids=["single", "tanh", "bce"],
)
def test_json_numbers_reproduce_loss_and_gradient(args):
    doc = run_json(*args, "--dtype", "float64", "--device", "cpu", "--seed", "4")
    loss, o, g_w, g_b = _numpy_gradients(doc)
    assert doc["loss"] == pytest.approx(loss, rel=1e-12)
    assert _rel(doc["output"], o) <= 1e-12
    for k, layer in enumerate(doc["layers"]):
        assert _rel(layer["grad"]["analytic"], g_w[k]) <= 1e-12, k
        assert _rel(layer["grad"]["autograd"], g_w[k]) <= 1e-12, k
        assert _rel(layer["grad"]["numeric"], g_w[k]) <= 1e-6, k
        assert layer["grad_norm"] == pytest.approx(np.linalg.norm(g_w[k]), rel=1e-12)
        if layer["bias_grad"] is not None:
            assert _rel(layer["bias_grad"]["analytic"], g_b[k]) <= 1e-12, k
        assert layer["rel_error"] <= 1e-12
        assert layer["max_abs_diff"] == pytest.approx(
            np.abs(np.array(layer["grad"]["analytic"]) - layer["grad"]["autograd"]).max(),
            abs=1e-300,
        )


def test_x_and_w_by_hand():
    doc = run_json("single", "--x", "0.5,-1.2,2", "--w", "0.3,0.1,-0.4", "--dtype", "float64",
                   "--device", "cpu")
    assert doc["input"] == [[0.5, -1.2, 2.0]]
    assert doc["layers"][0]["weight"] == [[0.3, 0.1, -0.4]]
    assert doc["settings"]["inputs"] == 3
    assert doc["settings"]["x_given"] is True and doc["settings"]["w_given"] is True
    o = 1 / (1 + np.exp(-(0.5 * 0.3 - 1.2 * 0.1 - 2 * 0.4)))
    assert doc["output"][0][0] == pytest.approx(o, rel=1e-14)
    # In float32 the values are rounded to float32, nothing else.
    doc32 = run_json("single", "--x", "0.5,-1.2,2", "--w", "0.3,0.1,-0.4", "--device", "cpu")
    assert np.allclose(doc32["layers"][0]["weight"], [[0.3, 0.1, -0.4]], rtol=1e-7, atol=0)


def test_x_without_inputs_sets_the_size():
    doc = run_json("single", "--x", "1,2,3,4,5", "--device", "cpu")
    assert doc["settings"]["inputs"] == 5
    assert doc["layers"][0]["shape"] == [1, 5]


@pytest.mark.parametrize("command", ["single", "multi"])
def test_x_rows_set_the_batch(command):
    doc = run_json(command, "--x", "1,2,3;4,5,6", "--dtype", "float64", "--device", "cpu")
    assert doc["settings"]["batch"] == 2
    assert doc["input"] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert len(doc["output"]) == 2


@pytest.mark.parametrize("command", ["single", "multi"])
def test_x_rows_with_a_matching_batch(command):
    doc = run_json(command, "--x", "1,2,3;4,5,6", "--batch", "2", "--dtype", "float64",
                   "--device", "cpu")
    assert doc["settings"]["batch"] == 2
    assert doc["input"] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert len(doc["output"]) == 2
    assert doc["check"]["passed"] is True


# ---------------------------------------------------------------- bad input

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")

BAD = [
    (("single", "--inputs", "0"), "--inputs"),
    (("single", "--inputs", "-1"), "--inputs"),
    (("multi", "--inputs", "0"), "--inputs"),
    (("multi", "--outputs", "0"), "--outputs"),
    (("multi", "--hidden", "8,0"), "--hidden"),
    (("multi", "--hidden", "a"), "--hidden"),
    (("multi", "--hidden", "8,-2"), "--hidden"),
    (("single", "--x", "1,,2"), "--x"),
    (("single", "--x", "abc"), "--x"),
    (("single", "--x", ""), "--x"),
    (("single", "--x", "1,2", "--inputs", "3"), "--x"),
    (("multi", "--x", "1,2", "--inputs", "3"), "--x"),
    (("single", "--x", "1,2;3"), "--x"),
    (("single", "--x", "1,2;3,4", "--batch", "3"), "--x"),
    (("single", "--x", "nan"), "--x"),
    (("single", "--x", "1,inf,2"), "--x"),
    (("single", "--w", "1,2", "--inputs", "3"), "--w"),
    (("single", "--x", "1,2,3", "--w", "1,2"), "--w"),
    (("single", "--w", "0.1,x,3"), "--w"),
    (("single", "--loss", "bce", "--activation", "relu"), "--loss"),
    (("multi", "--loss", "bce", "--activation", "tanh"), "--loss"),
    (("single", "--activation", "foo"), "--activation"),
    (("single", "--loss", "hinge"), "--loss"),
    (("single", "--gain", "0"), "--gain"),
    (("single", "--gain", "-1"), "--gain"),
    (("single", "--gain", "inf"), "--gain"),
    (("single", "--gain", "nan"), "--gain"),
    (("single", "--tolerance", "0"), "--tolerance"),
    (("single", "--tolerance", "-1e-3"), "--tolerance"),
    (("single", "--batch", "0"), "--batch"),
    (("multi", "--batch", "-2"), "--batch"),
    pytest.param(("single", "--device", "cuda"), "--device", marks=NO_CUDA),
    pytest.param(("single", "--device", "cuda:0"), "--device", marks=NO_CUDA),
    (("single", "--device", "cuda:99"), "--device"),
    (("single", "--device", "tpu"), "--device"),
    (("single", "--loss", "bce", "--target", "2"), "--target"),
    (("single", "--loss", "bce", "--target", "-0.5"), "--target"),
    (("multi", "--target", "1,2"), "--target"),
    (("single", "--target", ""), "--target"),
    (("single", "--seed", "-1"), "--seed"),
    (("single", "--seed", str(2**63)), "--seed"),
]


def _bad_id(case) -> str:
    args = case.values[0] if hasattr(case, "values") else case[0]
    return " ".join(args)


@pytest.mark.parametrize(("args", "option"), BAD, ids=[_bad_id(c) for c in BAD])
def test_bad_input_exits_2_naming_the_option(args, option):
    result = invoke(*args)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert option in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "PASS" not in result.stdout


def test_bad_input_with_json_keeps_stdout_empty():
    result = invoke("single", "--inputs", "0", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--inputs" in result.stderr


# ---------------------------------------------------------------- version, help


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag):
    result = invoke(flag)
    assert result.exit_code == 0
    first, second = result.stdout.strip().splitlines()
    assert first == f"percgrad {__version__}"
    import torch

    assert second.startswith(f"torch {torch.__version__} (")
    assert ("CUDA" in second) and (("CPU-only" in second) == (torch.version.cuda is None))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--help",), ("Usage", "single", "multi")),
        (("single", "--help"), ("Usage", "--inputs", "--x", "--w", "--json")),
        (("multi", "--help"), ("Usage", "--inputs", "--outputs", "--hidden", "--json")),
        (("multi", "-h"), ("Usage", "--hidden")),
    ],
    ids=["root", "single", "multi", "multi-h"],
)
def test_help(args, words):
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    for word in words:
        assert word in result.stdout, word


# ---------------------------------------------------------------- a wrong derivative


def test_wrong_derivative_fails_with_exit_1(wrong_sigmoid):
    result = invoke("single", "--inputs", "3", "--device", "cpu")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout
    assert "PASS" not in result.stdout
    assert re.search(r"W1\[0,\d\]", result.stdout), result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_wrong_derivative_json_says_failed(wrong_sigmoid):
    result = invoke("multi", "--hidden", "3", "--device", "cpu", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["check"]["passed"] is False
    assert any(f.startswith("W1:") for f in doc["check"]["failures"])
    assert doc["layers"][0]["rel_error"] > 0.1


# ---------------------------------------------------------------- python -m percgrad


def test_python_m_percgrad_help():
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "percgrad", "--help"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout
    assert "single" in proc.stdout and "multi" in proc.stdout
