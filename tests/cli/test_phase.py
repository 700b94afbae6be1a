"""`percgrad phase` end to end: the JSON carries every grid point, errors exit 2 without a
traceback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from percgrad.cli.app import app

pytestmark = pytest.mark.cli


runner = CliRunner()


def test_json_carries_every_grid_point() -> None:
    result = runner.invoke(app, ["phase", "--sigma-w2", "0.5,1.5,3", "--sigma-b2", "0:0.2:0.1",
                                 "--depth", "8", "--width", "16", "--batch", "2", "--device", "cpu",
                                 "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["command"] == "phase" and doc["grid"]["sigma_w2"] == [0.5, 1.5, 3.0]
    assert len(doc["points"]) == 9
    assert [(p["sigma_w2"], p["sigma_b2"]) for p in doc["points"]] == [
        (w, b) for b in (0.0, 0.1, 0.2) for w in (0.5, 1.5, 3.0)]
    for p in doc["points"]:
        for key in ("q_star", "chi1", "xi", "c_star", "measured_factor", "measured_xi",
                    "measured_c", "predicted_factor", "layer_factors"):
            assert key in p
        assert len(p["layer_factors"]) == 7
    assert len(doc["critical"]) == 3 and doc["check"]["passed"] is True
    assert all(v is None for v in doc["timing"].values())


@pytest.mark.parametrize(("args", "needle"), [
    (["--sigma-w2", "0.5:4"], "Error: --sigma-w2: '0.5:4' is not start:stop:step"),
    (["--depth", "2"], "Error: --depth: got 2; expected a whole number from 4"),
    (["--max-memory", "1M"], "but --max-memory is 1 MB"),
    (["--activation", "sigmoyd"], "Error: --activation:"),
    (["--sigma-b2", "-1"], "Error: --sigma-b2:"),
])
def test_cli_errors_exit_2_without_traceback(args: list[str], needle: str) -> None:
    result = runner.invoke(app, ["phase", *args, "--width", "16", "--device", "cpu"])
    assert result.exit_code == 2
    assert needle in result.stderr and "Traceback" not in result.output
