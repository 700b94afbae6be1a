"""Keeping stdout percgrad's while a user's code runs (inspect, check): whatever that code
writes — ``print()``, ``os.write(1, …)``, ``print(file=sys.__stdout__)``, a C extension's
printf, an ``atexit`` handler — goes to stderr, so that ``--json`` prints one JSON document on
stdout and nothing else. Only the standard library is imported here."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

STDOUT = 1
STDERR = 2


def _open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _flush() -> None:
    for stream in {id(s): s for s in (sys.stdout, sys.__stdout__) if s is not None}.values():
        with contextlib.suppress(Exception):
            stream.flush()


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Descriptor 1 pointed at descriptor 2 (and ``sys.stdout`` at ``sys.stderr``) for the
    duration, then put back: what is written there in between lands on stderr."""
    _flush()
    saved = os.dup(STDOUT) if _open(STDOUT) and _open(STDERR) else None
    if saved is not None:
        os.dup2(STDERR, STDOUT)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _flush()  # what the user's code left in sys.__stdout__'s buffer goes to stderr too
        if saved is not None:
            os.dup2(saved, STDOUT)
            os.close(saved)


def is_real_stdout() -> bool:
    """Whether ``sys.stdout`` writes to descriptor 1 (not a test runner's buffer)."""
    try:
        return sys.stdout is not None and sys.stdout.fileno() == STDOUT
    except (AttributeError, OSError, ValueError):
        return False


def close_stdout_to_guests() -> None:
    """After the report is printed: descriptor 1 pointed at stderr for the rest of the process,
    so that the user's ``atexit`` handlers (which run after percgrad is done) cannot add to
    stdout. Only where ``sys.stdout`` is descriptor 1 (the CLI itself, not a test runner)."""
    if not is_real_stdout() or not _open(STDERR):
        return
    _flush()
    with contextlib.suppress(OSError):
        os.dup2(STDERR, STDOUT)
