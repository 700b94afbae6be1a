"""Explanations through the CLI: the dead ReLU chain's JSON (a vacuous check, an infinite depth
scale), every planted ``--mistake`` failing the check at the right layers (or refused where it
cannot apply), and ``--b``."""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import percgrad
from golden_util import render
from percgrad.catalog import MISTAKES
from percgrad.cli.app import app
from percgrad.theory import flow as diagnosis

pytestmark = pytest.mark.cli


CPU = {"device": "cpu"}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--device", "cpu"])


def run_json(*args: str, code: int = 0) -> dict[str, Any]:
    result = invoke(*args, "--json")
    assert result.exit_code == code, (result.exit_code, result.stdout[-1500:], result.stderr)
    return json.loads(result.stdout)


@functools.cache
def _vanish(items: tuple[tuple[str, Any], ...]) -> Any:
    return percgrad.vanish(**dict(items), **CPU)


def cached_vanish(**options: Any) -> Any:
    """percgrad.vanish on the CPU, computed once per set of options (callers only read it)."""
    return _vanish(tuple(sorted(options.items())))


# ---------------------------------------------------------------- the cases


def test_dead_relu_chain_is_dead_with_a_vacuous_check_and_an_infinite_depth_scale() -> None:
    report = cached_vanish(depth=10, activation="relu", init="kaiming")
    summ, th, check = report.summary, report.theory, report.check
    assert summ is not None and th is not None
    assert all(layer.grad_norm == 0 for layer in report.layers)  # the case: every gradient is 0
    assert summ.diagnosis == "dead"
    assert summ.verdict_layers
    for k in summ.verdict_layers:
        layer = report.layers[k - 1]
        assert layer.mean_abs_dphi == 0 or layer.delta_norm == 0
    assert check.passed is None
    assert check.vacuous is True
    assert not report.failed
    # χ̄ = 1 + 2⁻⁵²: round-off of the edge of chaos, so ξ is infinite, never −4.5e15.
    assert abs(math.log(th.mean_chi)) < diagnosis.CRITICAL_LOG
    assert th.depth_scale is None
    assert th.critical is True
    assert th.growing is False

    result = invoke("vanish", "--depth", "10", "--activation", "relu", "--init", "kaiming", "--json")
    assert result.exit_code == 0, result.stderr
    assert '"depth_scale": null' in result.stdout
    doc = json.loads(result.stdout)
    assert doc["theory"]["depth_scale"] is None
    assert doc["theory"]["critical"] is True
    assert doc["check"]["passed"] is None
    assert doc["check"]["vacuous"] is True
    assert doc["summary"]["diagnosis"] == "dead"

    text = render(report, 200)
    assert "PASS" not in text
    assert "STABLE" not in text


# ---------------------------------------------------------------- --mistake


NETS = {
    "multi": ("multi", "--inputs", "4", "--hidden", "4", "--outputs", "4"),
    "vanish": ("vanish", "--width", "4", "--depth", "3", "--tensors"),
}
EVERY_LAYER = {"drop-2", "wrong-sign", "sum-not-mean", "forget-dphi"}
BELOW_OUTPUT = {"no-transpose", "stale-delta"}


assert set(MISTAKES) == EVERY_LAYER | BELOW_OUTPUT, "a new mistake needs its expected layers here"


def exact_ratio(name: str, n: int) -> float | None:
    return {"drop-2": 0.5, "wrong-sign": -1.0, "sum-not-mean": float(n)}.get(name)


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("name", list(MISTAKES))
def test_planted_mistake_fails_the_check_at_the_right_layers(name: str, net: str) -> None:
    doc = run_json(*NETS[net], "--mistake", name, "--dtype", "float64", code=1)
    check = doc["check"]
    assert check["passed"] is False
    assert check["mistake"] == name
    depth = len(doc["layers"])
    expected = set(range(1, depth + 1)) if name in EVERY_LAYER else set(range(1, depth))
    assert {m["layer"] for m in check["mismatches"]} == expected
    for m in check["mismatches"]:
        layer = doc["layers"][m["layer"] - 1]
        found = re.fullmatch(r"W(\d+)\[(\d+),(\d+)\]", m["entry"])
        assert found and int(found.group(1)) == m["layer"]
        i, j = int(found.group(2)), int(found.group(3))
        assert m["analytic"] == pytest.approx(layer["grad"]["analytic"][i][j])
    for k, layer in enumerate(doc["layers"], start=1):
        analytic = np.array(layer["grad"]["analytic"])
        autograd = np.array(layer["grad"]["autograd"])
        if k not in expected:  # the output layer's gradient still matches
            assert layer["rel_error"] <= check["tolerance"], (k, layer["rel_error"])
            continue
        assert layer["rel_error"] > check["tolerance"]
        ratio = exact_ratio(name, doc["settings"]["batch"] * doc["settings"]["outputs"])
        if ratio is not None:
            big = np.abs(autograd) > 1e-9 * np.abs(autograd).max()
            np.testing.assert_allclose(analytic[big] / autograd[big], ratio, rtol=1e-7)


def test_a_caught_mistake_is_named_in_the_text() -> None:
    result = invoke(*NETS["multi"], "--mistake", "drop-2")
    assert result.exit_code == 1
    assert "FAIL" in result.stdout
    assert "--mistake drop-2" in result.stdout


@pytest.mark.parametrize("args", [
    ("single", "--mistake", "no-transpose"),
    ("single", "--loss", "bce", "--mistake", "drop-2"),
    ("single", "--activation", "identity", "--mistake", "forget-dphi"),
    ("vanish", "--width", "4", "--depth", "3", "--activation", "identity", "--mistake",
     "forget-dphi"),
])
def test_a_mistake_that_cannot_apply_is_refused(args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, (result.stdout[-500:], result.stderr)
    assert "--mistake" in result.stderr


# ---------------------------------------------------------------- --b, --loss sum, a textbook neuron


def test_b_sets_the_bias_by_hand() -> None:
    doc = run_json("single", "--x", "1,2", "--w", "0.5,-0.3", "--b", "0.75", "--dtype", "float64")
    assert doc["settings"]["bias"] is True
    layer = doc["layers"][0]
    assert layer["bias"] == [0.75]
    a = 1 * 0.5 + 2 * -0.3 + 0.75
    o = 1.0 / (1.0 + math.exp(-a))
    assert doc["output"][0][0] == pytest.approx(o, rel=1e-12)


def test_b_and_no_bias_conflict() -> None:
    result = invoke("single", "--inputs", "2", "--b", "1", "--no-bias")
    assert result.exit_code == 2
    assert "--b" in result.stderr
