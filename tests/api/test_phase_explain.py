"""``percgrad.phase`` and ``percgrad.explain``: the CLI's commands as functions, with the CLI's
documents and numbers."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import percgrad
from percgrad.cli.app import app
from percgrad.errors import PercgradError

PHASE = {"activation": "tanh", "depth": 8, "width": 16, "sigma_w2": "1,2", "sigma_b2": "0,0.1",
         "device": "cpu"}


@pytest.mark.cli
def test_phase_is_the_cli_document() -> None:
    report = percgrad.phase(**PHASE)
    result = CliRunner().invoke(app, ["phase", "--activation", "tanh", "--depth", "8", "--width", "16",
                                      "--sigma-w2", "1,2", "--sigma-b2", "0,0.1", "--device", "cpu",
                                      "--json"])
    assert result.exit_code == 0, result.stderr
    assert report.to_dict() == json.loads(result.stdout)
    assert len(report.points) == 4


def test_phase_refuses_bad_options_by_name() -> None:
    with pytest.raises(PercgradError) as err:
        percgrad.phase(**{**PHASE, "sigma_w2": "1,x"})
    assert err.value.option == "--sigma-w2"


def test_explain_gives_the_worked_example() -> None:
    example = percgrad.explain("delta")
    assert example.topic == "delta"
    v = example.values
    assert v["delta"] == pytest.approx(v["dEdo"] * v["dphi"], rel=1e-12)
    assert percgrad.explain("Chain_Rule").topic == "chain-rule"


def test_explain_names_the_topics_it_knows() -> None:
    with pytest.raises(PercgradError, match="did you mean delta"):
        percgrad.explain("deltas")
