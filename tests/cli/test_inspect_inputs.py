"""percgrad inspect with several inputs and --output, from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cli

MODEL = '''
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(16, 4)
        self.b = nn.Linear(16, 2)

    def forward(self, x, mask):
        return {"h": self.a(x * mask), "score": self.b(x)}
'''


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    return subprocess.run([sys.executable, "-m", "percgrad", "inspect", f"{path}:M", *args],
                          capture_output=True, text=True, timeout=120)


def test_missing_input_exits_2_naming_the_parameters(tmp_path: Path) -> None:
    done = run(tmp_path, "--input-shape", "8,16")
    assert done.returncode == 2
    assert "forward(x, mask)" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_two_inputs_and_output(tmp_path: Path) -> None:
    done = run(tmp_path, "--input-shape", "8,16", "--input-shape", "mask=8,16", "--output",
               "score", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["output_shape"] == [8, 2]
    assert doc["input_shapes"] == [[8, 16], [8, 16]]
