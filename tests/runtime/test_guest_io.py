"""Keeping stdout percgrad's while user code runs (runtime/guest_io.py): what the guest writes to
descriptor 1 or sys.stdout lands on stderr, and stdout is put back afterwards."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from percgrad.runtime import guest_io

SCRIPT = """
import os, sys
from percgrad.runtime.guest_io import stdout_to_stderr
with stdout_to_stderr():
    print("guest print")
    os.write(1, b"guest write\\n")
    print("guest __stdout__", file=sys.__stdout__)
print("report")
"""


def test_the_guests_writes_go_to_stderr_and_stdout_comes_back() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    assert done.stdout == "report\n"
    for line in ("guest print", "guest write", "guest __stdout__"):
        assert line in done.stderr


def test_in_process_the_redirect_is_undone(capfd: pytest.CaptureFixture[str]) -> None:
    with guest_io.stdout_to_stderr():
        os.write(1, b"from the guest\n")
    os.write(1, b"from percgrad\n")
    out, err = capfd.readouterr()
    assert out == "from percgrad\n" and "from the guest" in err
