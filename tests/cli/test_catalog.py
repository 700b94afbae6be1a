"""Every catalog entry through the command line: every activation runs every command (single,
multi, vanish, residual layer norm, every init; tables and --json), bce runs or is refused with
a message, aliases and typos on the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from percgrad import catalog
from percgrad.cli.app import app

pytestmark = pytest.mark.cli


runner = CliRunner()

ACTS = catalog.ACTIVATION_NAMES
COMMANDS = {
    "single": ("single", "--inputs", "3"),
    "multi": ("multi", "--inputs", "3", "--hidden", "4", "--outputs", "2"),
    "vanish": ("vanish", "--depth", "4", "--width", "4"),
    "vanish-residual-ln": ("vanish", "--depth", "4", "--width", "4", "--residual", "--norm", "layer"),
    **{f"multi-init-{i}": ("multi", "--init", i) for i in catalog.INIT_NAMES},
}
UNIT_INTERVAL_MESSAGE = "bce needs outputs in (0, 1)"
REFUSED: dict[tuple[str, str], str] = {}
"""(activation, command) pairs of COMMANDS that the tool legitimately refuses with exit 2, and
the message it must give instead (none today: every activation runs every command with mse)."""


def invoke(*args: str):
    return runner.invoke(app, [*args, "--device", "cpu"])


def _no_crash(result) -> str:
    """What went wrong, for the assertion message; the result must not be a crash."""
    text = result.stdout + result.stderr
    why = f"exit {result.exit_code}: {text[-3000:]}"
    assert result.exit_code in (0, 1), why
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        why, repr(result.exception))
    assert "Traceback" not in text, why
    assert "internal error" not in text, why
    return why


# ---------------------------------------------------------------- through the CLI


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("activation", ACTS)
def test_every_activation_runs_every_command(activation, command):
    args = COMMANDS[command]
    result = invoke(*args, "--activation", activation)
    if (activation, command) in REFUSED:
        assert result.exit_code == 2, result.stdout + result.stderr
        assert REFUSED[activation, command] in result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        return
    why = _no_crash(result)
    assert result.stdout.strip(), why
    if result.exit_code == 1:  # only a failed check may exit 1, and it says so
        assert "FAIL" in result.stdout, why

    doc_result = invoke(*args, "--activation", activation, "--json")
    why = _no_crash(doc_result)
    assert doc_result.exit_code == result.exit_code, why
    doc = json.loads(doc_result.stdout)
    assert doc["command"] == args[0]
    assert doc["settings"]["activation"] == activation
    # Exit 1 is a failed check; exit 0 a passed one, or one that could prove nothing (None).
    assert (doc["check"]["passed"] is False) is (doc_result.exit_code == 1), why
    if command.startswith("multi-init-"):
        assert doc["settings"]["init"] == args[2]
    if command == "vanish-residual-ln":
        assert doc["settings"]["arch"] == "residual-layernorm"


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("command", ["single", "vanish"])
def test_bce_runs_or_is_refused_with_a_message(command, activation):
    """bce needs outputs in (0, 1): it runs with every activation that gives them and is
    refused (exit 2, a message naming --loss, no traceback) with every other."""
    result = invoke(*COMMANDS[command], "--activation", activation, "--loss", "bce",
                    "--target", "0.3")
    if catalog.ACTIVATIONS[activation].unit_interval:
        _no_crash(result)
        return
    assert result.exit_code == 2, result.stdout + result.stderr
    assert UNIT_INTERVAL_MESSAGE in result.stderr
    assert "--loss" in result.stderr
    assert repr(activation) in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("activation", ACTS)
def test_aliases_work_on_the_command_line(activation):
    info = catalog.ACTIVATIONS[activation]
    for given in (activation.upper(), *info.aliases):
        result = invoke("single", "--activation", given, "--json")
        _no_crash(result)
        assert json.loads(result.stdout)["settings"]["activation"] == activation, given


def test_a_typo_on_the_command_line_is_refused_with_the_suggestion():
    result = invoke("single", "--activation", "sigmod")
    assert result.exit_code == 2
    assert "did you mean sigmoid?" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
