"""Running the CLI in-process for the end-to-end tests (tests/cli/)."""

from __future__ import annotations

from typer.testing import CliRunner

from percgrad.cli.app import app

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])
