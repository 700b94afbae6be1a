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


def test_bare_percgrad_prints_its_help_and_no_error(capsys) -> None:
    from typer.main import get_command

    from percgrad.cli.app import app

    code = get_command(app).main(args=[], standalone_mode=False)
    out = capsys.readouterr()
    assert code == 0 and "Error" not in out.err
    assert "single" in out.out and "vanish" in out.out


def test_version_after_a_command_points_to_percgrad_version(capsys) -> None:
    from typer.main import get_command

    from percgrad.cli.app import app

    code = get_command(app).main(args=["single", "--version"], standalone_mode=False)
    err = capsys.readouterr().err
    assert code == 2 and "percgrad --version" in err and "did you mean" not in err
