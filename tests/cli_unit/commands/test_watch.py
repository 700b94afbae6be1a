"""``percgrad watch`` declared (cli/commands/watch.py): everything after SCRIPT is the script's,
the report as JSON or on stderr, --log then --replay, the script's exit status, refusals."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from percgrad.cli.app import app
from percgrad.cli.commands import watch

EX = Path(__file__).resolve().parents[3] / "examples"
runner = CliRunner()


def _run(*args: str) -> object:
    return runner.invoke(app, ["watch", *args], env={"PERCGRAD_NO_LIVE": "1", "COLUMNS": "80"})


def test_json_names_the_first_nan_and_the_scripts_options_stay_its_own() -> None:
    result = _run("--json", str(EX / "diverge.py"), "--steps", "25")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["command"] == "watch" and doc["total_steps"] == 25  # --steps went to the script
    assert doc["nonfinite"]["step"] == 22 and doc["nonfinite"]["op"] == "aten.exp"
    assert "step 0: loss" in result.stderr  # the script's prints stay off stdout


def test_the_report_goes_to_stderr_and_a_log_replays(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    result = _run("--log", str(log), str(EX / "diverge.py"), "--steps", "25")
    assert result.exit_code == 0, result.output
    assert "NON-FINITE at step 22" in " ".join(result.stderr.split())
    assert "step 0: loss" in result.stdout and "NON-FINITE" not in result.stdout
    again = _run("--json", "--replay", str(log))
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["nonfinite"]["step"] == 22


def test_the_scripts_exit_status_is_percgrads(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("import sys\nprint('hello')\nsys.exit(4)\n")
    result = _run(str(script))
    assert result.exit_code == 4 and "hello" in result.stdout


def test_refusals_name_the_option() -> None:
    missing = _run()
    assert missing.exit_code == 2 and "SCRIPT" in missing.stderr
    both = _run("--replay", "x.jsonl", "train.py")
    assert both.exit_code == 2 and "--replay" in both.stderr
    absent = _run("no_such_train.py")
    assert absent.exit_code == 2 and "no such file" in absent.stderr


def test_everything_after_the_script_is_the_scripts() -> None:
    assert watch.CONTEXT["allow_interspersed_args"] is False
