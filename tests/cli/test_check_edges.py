"""Edges of the gradient check through the CLI's JSON: kinks marked entry by entry and left out,
a smooth net that excludes nothing, unsettled differences of an exploding chain, float32
round-off told apart from a wrong derivation, and the spectral bound's switch."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from percgrad.cli.app import app

pytestmark = pytest.mark.cli


def _json(*args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--device", "cpu", "--json"])
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_a_kink_is_marked_entry_by_entry() -> None:
    doc = _json("single", "--activation", "relu", "--x", "1,1,1", "--w", "1,-1,0")
    grad = doc["layers"][0]["grad"]
    assert grad["numeric_excluded"] == [[True, True, True]]
    # relu′(0) = 0 makes every gradient exactly 0: a vacuous check, not a pass
    assert doc["check"]["kinks"] == 3 and doc["check"]["passed"] is None
    assert doc["check"]["vacuous"] is True
    # where the finite difference is excluded it really is not the derivative
    assert grad["numeric"][0][0] != pytest.approx(grad["analytic"][0][0])


def test_a_smooth_net_excludes_nothing() -> None:
    doc = _json("multi", "--hidden", "5", "--dtype", "float64", "--bias")
    for layer in doc["layers"]:
        assert not any(any(row) for row in layer["grad"]["numeric_excluded"])
        assert not any(layer["bias_grad"]["numeric_excluded"])
    assert doc["check"]["unresolved"] == 0 and doc["check"]["passed"] is True


def test_an_exploding_chain_is_not_failed_by_unusable_differences() -> None:
    # normal init at width 256 gives σ_w² = 256: tanh is chaotic, the loss rough at every step
    doc = _json("vanish", "--activation", "tanh", "--width", "256", "--depth", "20",
                "--check", "fast")
    assert doc["summary"]["diagnosis"] == "exploding"
    assert doc["check"]["unresolved"] >= 1
    assert doc["check"]["passed"] is not False
    # most directions unusable: inconclusive, never a pass on what is left
    if 2 * doc["check"]["unresolved"] > len(doc["check"]["directions"]):
        assert doc["check"]["passed"] is None and doc["check"]["inconclusive"]
    assert any("could not be trusted" in w for w in doc["warnings"])


def test_float32_round_off_is_told_apart_from_a_wrong_derivation() -> None:
    # at width 64 the differences settle, and the float32 gradient really is far from the truth
    args = ["vanish", "--activation", "tanh", "--width", "64", "--depth", "20", "--check", "fast"]
    doc = _json(*args)
    assert doc["check"]["passed"] is False
    assert all("round-off amplified by this network" in f for f in doc["check"]["failures"])
    # in float64 nothing fails; σ_w² = 64 makes the loss too rough for most directions to settle
    doc64 = _json(*args, "--dtype", "float64")["check"]
    assert doc64["passed"] is True or (doc64["passed"] is None and doc64["inconclusive"])


@pytest.mark.parametrize(("flag", "has_bound"), [("--bound", True), ("--no-bound", False)])
def test_bound_switch(flag: str, has_bound: bool) -> None:
    doc = _json("vanish", "--depth", "5", "--width", "8", flag)
    bounds = [layer["bound"] for layer in doc["layers"][:-1]]
    assert all((b is not None) == has_bound for b in bounds)
    assert doc["layers"][-1]["bound"] is None
    if not has_bound:
        assert any("--no-bound turns it off" in n for n in doc["summary"]["notes"])
