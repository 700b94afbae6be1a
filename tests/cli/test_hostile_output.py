"""Hostile output: a full disk, a closed stdout, a name too long, --save and --plot on one file, an
ASCII-only stdout, a reader that goes away, a bad COLUMNS, and Ctrl-C at any moment. Each ends in
exit 0, 1, 2 or 130 with at most one line on stderr, never a traceback or a corrupted --json.

Where a real terminal, pipe, encoding or signal matters the test runs ``python -m percgrad`` in a
subprocess; the rest runs in-process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from percgrad.cli.app import app
from percgrad.cli.streams import json_for, look_alike
from percgrad.errors import PercgradError
from percgrad.views.atomic import replacing

pytestmark = pytest.mark.cli

ROOT = Path(__file__).resolve().parents[2]
PERCGRAD = [sys.executable, "-m", "percgrad"]
LONG_RUN = ["vanish", "--depth", "3000", "--width", "8", "--device", "cpu"]
"""A run that takes several seconds: long enough to be interrupted anywhere."""


def run(*args: str, env: dict[str, str] | None = None, **kwargs):
    return subprocess.run([*PERCGRAD, *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**os.environ, **(env or {})}, **kwargs)


def assert_quiet_error(stderr: str, *names: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    for name in names:
        assert name in lines[0], (name, stderr)


# ---------------------------------------------------------------- 3. output errors

needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")


@needs_dev_full
@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["tables", "json"])
def test_full_disk_on_stdout_is_an_error_line_and_save_is_still_written(
        tmp_path: Path, json_flag: tuple[str, ...]) -> None:
    saved = tmp_path / "r.txt"
    with open("/dev/full", "w") as full:
        result = subprocess.run([*PERCGRAD, "single", *json_flag, "--save", str(saved)],
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
                                cwd=ROOT)
    assert result.returncode == 2
    assert saved.read_text().startswith("╭─ percgrad single")
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"wrote {saved}", result.stderr
    assert_quiet_error("\n".join(lines[1:]), "stdout", "No space left")


def test_closed_stdout_is_refused() -> None:
    result = subprocess.run(f"{sys.executable} -m percgrad single --json >&-", shell=True,
                            stderr=subprocess.PIPE, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2
    assert_quiet_error(result.stderr, "stdout", "closed")


def test_save_name_too_long_is_refused_before_running(tmp_path: Path) -> None:
    name = tmp_path / ("r" * 300 + ".txt")
    result = CliRunner().invoke(app, ["single", "--save", str(name)])
    assert result.exit_code == 2, (result.stderr, repr(result.exception))
    assert_quiet_error(result.stderr, "--save", "bytes long")
    assert result.stdout == ""


@pytest.mark.parametrize("plot", ["r.svg", "sub/../r.svg"])
def test_save_and_plot_on_one_file_is_refused(tmp_path: Path, plot: str) -> None:
    (tmp_path / "sub").mkdir()
    result = CliRunner().invoke(app, ["single", "--save", str(tmp_path / "r.svg"),
                                      "--plot", str(tmp_path / plot)])
    assert result.exit_code == 2
    assert_quiet_error(result.stderr, "--save", "--plot")
    assert not (tmp_path / "r.svg").exists()


def test_failed_save_still_prints_the_report(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import percgrad.views.save as save

    def no_room(console, path):
        raise PercgradError(f"cannot write {str(path)!r}: No space left on device", "--save")

    monkeypatch.setattr(save, "save_console", no_room)
    result = CliRunner().invoke(app, ["single", "--save", str(tmp_path / "r.txt")])
    assert result.exit_code == 2
    assert "percgrad single" in result.stdout
    assert_quiet_error(result.stderr, "--save", "No space left")


@pytest.mark.parametrize("stop", [KeyboardInterrupt, OSError])
def test_interrupted_write_leaves_no_partial_file(tmp_path: Path, stop: type) -> None:
    target = tmp_path / "r.txt"
    target.write_text("the old report\n")
    with pytest.raises(stop), replacing(target) as temporary:
        Path(temporary).write_text("half a rep")
        raise stop()
    assert target.read_text() == "the old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]


def test_save_is_written_whole(tmp_path: Path) -> None:
    target = tmp_path / "r.txt"
    with replacing(target) as temporary:
        Path(temporary).write_text("whole\n")
    assert target.read_text() == "whole\n"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask, "the umask's mode, not mkstemp's 600"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]


ASCII = {"PYTHONIOENCODING": "ascii"}


def test_ascii_stdout_gets_ascii_tables() -> None:
    result = subprocess.run([*PERCGRAD, "single"], capture_output=True, timeout=120, cwd=ROOT,
                            env={**os.environ, **ASCII})
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode("ascii")  # nothing but ASCII
    assert "percgrad single" in text and "Traceback" not in result.stderr.decode()
    widths = {len(line) for line in text.splitlines()[:6]}
    assert len(widths) == 1, "the look-alikes keep the box aligned"


@pytest.mark.parametrize("args", [("--help",), ("single", "--help"), ("phase", "--help")])
def test_ascii_stdout_help(args: tuple[str, ...]) -> None:
    result = run(*args, env=ASCII)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout and result.stderr == ""


def test_ascii_stdout_json_is_the_same_document() -> None:
    plain = CliRunner().invoke(app, ["single", "--json"])
    ascii_only = run("single", "--json", env=ASCII)
    assert ascii_only.returncode == 0, ascii_only.stderr
    assert ascii_only.stdout.isascii() and "\\u03c3" in ascii_only.stdout
    assert json.loads(ascii_only.stdout) == json.loads(plain.stdout)


def test_ascii_stderr_error_line() -> None:
    result = run("single", "--activation", ":cat:φ🐱", env=ASCII)
    assert result.returncode == 2
    assert_quiet_error(result.stderr, "--activation", ":cat:f?")


def test_look_alikes_and_json_escapes() -> None:
    assert [look_alike(c) for c in "φ—‖²ᵀ╭🐱"] == ["f", "-", "|", "2", "T", "+", "?"]
    assert json_for(sys.stdout, '"σ"') in ('"σ"', '"\\u03c3"')
    text = json.dumps({"k": "σ🐱"}, ensure_ascii=False)

    class Ascii:
        encoding = "ascii"

    assert json.loads(json_for(Ascii(), text)) == {"k": "σ🐱"}


def _reader_gone(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run percgrad with a stdout pipe whose reader has already gone (``| head -0``)."""
    process = subprocess.Popen([*PERCGRAD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=cwd)
    assert process.stdout is not None
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(args, process.returncode, "", stderr)


@pytest.mark.parametrize(("args", "code"), [
    (("single", "--json"), 0),
    (("vanish", "--depth", "6", "--width", "4", "--mistake", "wrong-sign"), 1),
    (("vanish", "--help"), 0),
    (("--version",), 0),
], ids=["json", "check-failed", "help", "version"])
def test_reader_gone_exits_with_the_runs_own_status_quietly(args: tuple[str, ...],
                                                            code: int) -> None:
    result = _reader_gone(*args)
    assert result.returncode == code
    assert result.stderr == "", result.stderr


def test_reader_gone_still_writes_save(tmp_path: Path) -> None:
    result = _reader_gone("single", "--save", str(tmp_path / "r.txt"))
    assert result.returncode == 0
    assert (tmp_path / "r.txt").read_text().startswith("╭─ percgrad single")
    assert result.stderr.strip() == f"wrote {tmp_path / 'r.txt'}"


def test_bad_terminal_size_is_ignored() -> None:
    """Rich reads COLUMNS and LINES with str.isdigit and int(): '²' and 5,000 digits broke it."""
    result = run("single", env={"COLUMNS": "9" * 5000, "LINES": "²"})
    assert result.returncode == 0, result.stderr
    assert "percgrad single" in result.stdout and result.stderr == ""


# ---------------------------------------------------------------- 4. Ctrl-C

def _startup_seconds() -> float:
    """How long this machine takes to start an interpreter at all (before percgrad's first
    line a Ctrl-C is Python's own business)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sys"], check=True, timeout=60)
    return time.perf_counter() - start


def _interrupt(args: list[str], after: float, second: float | None = None,
               cwd: Path = ROOT) -> tuple[int, str, str]:
    process = subprocess.Popen([*PERCGRAD, *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=cwd)
    time.sleep(after)
    process.send_signal(signal.SIGINT)
    if second is not None:
        time.sleep(second)
        process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return process.returncode, stdout, stderr


BOOTSTRAP = {"percgrad/__init__.py", "percgrad/__main__.py", "percgrad/errors.py",
             "percgrad/version.py", "percgrad/cli/__init__.py", "percgrad/cli/interrupt.py"}
"""What runs before percgrad's SIGINT handler is installed (a millisecond or two)."""


def _before_percgrad(code: int, stderr: str) -> bool:
    """Whether the Ctrl-C came before percgrad's handler was installed: Python was still
    starting, or importing the few modules that install it (status −2, a traceback whose
    percgrad frames are those modules only). After that no Ctrl-C ends in a traceback."""
    if code not in (-signal.SIGINT, 1):  # 1: "Could not import runpy module"
        return False
    files = set(re.findall(r'File "[^"]*/(percgrad/[^"]+)"', stderr))
    return files <= BOOTSTRAP and (code != 1 or "KeyboardInterrupt" in stderr)


@pytest.mark.parametrize(("after", "second"), [
    ("start", None),  # while percgrad itself is imported (the first 0.1 s)
    (0.1, None),
    (0.5, None),  # importing torch: the interrupt is held until it is whole
    (1.5, None),  # computing
    (1.5, 0.002),  # a second Ctrl-C while the first is handled
    ("start", 0.002),
], ids=["imports", "0.1s", "0.5s", "1.5s", "twice", "twice-at-once"])
def test_ctrl_c_at_any_moment(after: float | str, second: float | None) -> None:
    delay = _startup_seconds() + 0.01 if after == "start" else float(after)
    for _ in range(5):  # a loaded machine may still be starting Python itself: a little later
        code, stdout, stderr = _interrupt(LONG_RUN, delay, second)
        if not _before_percgrad(code, stderr):
            break
        delay += 0.03
    assert code == 130, (code, stderr)
    assert stderr == "Interrupted.\n", stderr
    assert stdout == ""


def test_ctrl_c_while_saving_leaves_no_file(tmp_path: Path) -> None:
    code, _, stderr = _interrupt([*LONG_RUN, "--save", str(tmp_path / "r.svg"), "--plot",
                                  str(tmp_path / "r.png")], 1.5)
    assert code == 130 and stderr == "Interrupted.\n", stderr
    assert list(tmp_path.iterdir()) == []
