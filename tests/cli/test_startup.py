"""`percgrad --help` and `--version` never import torch (measured in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.cli


PROBE = """
import sys
from typer.testing import CliRunner
from percgrad.cli.app import app
runner = CliRunner()
for args in {args!r}:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
heavy = [name for name in ("torch", "numpy", "matplotlib") if name in sys.modules]
print(",".join(heavy) or "none")
"""


@pytest.mark.parametrize("args", [
    [["--help"]],
    [["--version"]],
    [["single", "--help"], ["multi", "--help"], ["vanish", "--help"]],
])
def test_help_and_version_import_no_torch(args: list[list[str]]) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True,
                         text=True, check=True, timeout=120)
    assert out.stdout.strip() == "none", out.stdout + out.stderr
