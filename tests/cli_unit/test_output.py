"""The output pipeline's errors as exit codes (cli/output.py): a PercgradError is one Error line
and exit 2, an unexpected exception a bug (3), running out of memory bad input."""

from __future__ import annotations

import pytest
import typer

from percgrad.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_CHECK_FAILED,
    EXIT_INTERNAL,
    Output,
    debugging,
    exit_codes,
    is_memory,
    unexpected,
)
from percgrad.errors import PercgradError


def test_exit_statuses_and_the_default_output() -> None:
    assert (EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL) == (1, 2, 3)
    out = Output()
    assert (out.json, out.save, out.plot, out.debug) == (False, None, None, False)


def test_a_percgrad_error_is_one_error_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exit_, exit_codes(Output()):
        raise PercgradError("must be at least 1", "--depth")
    assert exit_.value.exit_code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Error: --depth: must be at least 1" in " ".join(err.split())


def test_an_unexpected_exception_is_a_bug_unless_it_is_memory(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("PERCGRAD_DEBUG", raising=False)
    assert not debugging(Output()) and debugging(Output(debug=True))
    with pytest.raises(typer.Exit) as exit_, exit_codes(Output()):
        raise ZeroDivisionError("oops")
    assert exit_.value.exit_code == EXIT_INTERNAL
    assert "internal error (ZeroDivisionError: oops)" in " ".join(capsys.readouterr().err.split())
    assert is_memory(MemoryError()) and is_memory(RuntimeError("CUDA out of memory. Tried"))
    assert unexpected(MemoryError()).startswith("out of memory")
    with pytest.raises(ZeroDivisionError), exit_codes(Output(debug=True)):
        raise ZeroDivisionError("let through")
