"""Click's usage errors as one line (cli/usage.py): the option, what was given, what is allowed."""

from __future__ import annotations

from typer import _click

from percgrad.cli.usage import USAGE_ERRORS, usage_message

COMMANDS = ["single", "multi", "vanish", "inspect", "check", "explain", "phase"]


def test_an_unknown_command_lists_the_commands_and_the_closest() -> None:
    exc = _click.exceptions.UsageError("No such command 'vansh'.")
    assert isinstance(exc, USAGE_ERRORS)
    message = usage_message(exc, ["vansh"], COMMANDS)
    assert message.startswith("no such command 'vansh'; commands: single, multi, vanish")
    assert message.endswith("did you mean vanish?")
    far = usage_message(_click.exceptions.UsageError("No such command 'qqq'."), ["qqq"], COMMANDS)
    assert "did you mean" not in far


def test_an_option_without_its_value_says_so() -> None:
    exc = _click.exceptions.BadOptionUsage("--depth", "Option '--depth' requires an argument.")
    assert usage_message(exc, ["vanish", "--depth"], COMMANDS) == "--depth: needs a value"
