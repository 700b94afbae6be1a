"""Ctrl-C at any moment: ``Interrupted.`` on stderr and exit status 130, never a traceback.

``install()`` runs first thing (``python -m percgrad`` before the CLI is even imported, the
console script first thing in ``main``). Until ``arm()`` a Ctrl-C exits at once: nothing has been
written yet. Once armed, the first Ctrl-C raises KeyboardInterrupt, so that a half-written --save
or --plot file is removed and the run ends through the usual "Interrupted." path; a second one
while that happens exits at once. While torch and NumPy are imported (``import_quietly``) a
Ctrl-C is held until the import ends: torch's C code imports NumPy and swallows a
KeyboardInterrupt raised in there, leaving a half-imported NumPy behind (the run would go on, or
fail later with an AttributeError). Only the standard library is imported here.
"""

from __future__ import annotations

import os
import signal

TYPE_CHECKING = False  # not typing's: imported first thing, this module imports next to nothing
if TYPE_CHECKING:
    from types import FrameType, TracebackType
    from typing import NoReturn

EXIT_INTERRUPTED = 130
MESSAGE = b"Interrupted.\n"

_state = {"installed": False, "armed": False, "raised": False, "said": False, "holding": False,
          "held": False}


def quit_now() -> NoReturn:
    """Print ``Interrupted.`` on stderr (if it is open) and end the process with status 130."""
    if not _state["said"]:
        try:  # noqa: SIM105 - contextlib would be one more import before the handler
            os.write(2, MESSAGE)
        except OSError:
            pass
    os._exit(EXIT_INTERRUPTED)


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    if _state["armed"] and _state["holding"] and not _state["held"]:
        _state["held"] = True  # raised when the import ends
        return
    if _state["armed"] and not _state["raised"]:
        _state["raised"] = True
        raise KeyboardInterrupt
    quit_now()


def install() -> None:
    """Handle SIGINT from now on (main thread only; an ignored SIGINT, e.g. ``nohup``, stays so)."""
    if _state["installed"]:
        return
    try:
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            return
        signal.signal(signal.SIGINT, _on_sigint)
    except (ValueError, OSError):  # not the main thread, or no signals here
        return
    _state["installed"] = True


def arm() -> None:
    """From now on the first Ctrl-C raises KeyboardInterrupt (the run cleans up and says so)."""
    _state["armed"] = True


def disarm() -> None:
    """From now on a Ctrl-C exits at once (the run has ended; only exiting is left)."""
    _state["armed"] = False


def ignore() -> None:
    """Ignore Ctrl-C from now on: the process is about to exit (Python, finalizing, would put
    the default handler back, and a Ctrl-C in that moment would end it by SIGINT, status −2)."""
    if not _state["installed"]:
        return
    try:  # noqa: SIM105 - as in quit_now
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):
        pass


class holding:  # a class, not contextlib's decorator: one import fewer
    """Hold a Ctrl-C until the block ends, then raise it (a second one exits at once)."""

    def __enter__(self) -> None:
        _state["holding"] = True

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        _state["holding"] = False
        if _state["held"]:
            _state["held"] = False
            _state["raised"] = True
            raise KeyboardInterrupt  # the Ctrl-C wins over what the block raised


class blocked:  # like holding, a class: one import fewer
    """SIGINT blocked (left pending) while the block runs: ``Interrupted.`` is printed and
    marked as said in one step, so a second Ctrl-C cannot print it again."""

    _old: set[int | signal.Signals] | None

    def __enter__(self) -> None:
        try:
            self._old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        except (AttributeError, ValueError, OSError):  # no such call here (Windows)
            self._old = None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old)


def import_quietly(*names: str) -> None:
    """Import ``names`` (NumPy, torch) with a Ctrl-C held until they are whole."""
    with holding():
        for name in names:
            __import__(name)


def said(value: bool | None = None) -> bool:
    """Whether ``Interrupted.`` has been printed (``value`` sets it): said once, whichever
    layer caught the Ctrl-C (Typer itself ends with 130 silently)."""
    if value is not None:
        _state["said"] = value
    return _state["said"]


def forget_caught_interrupt() -> None:
    """CPython 3.11 marks a KeyboardInterrupt raised inside ``eval()`` of a string (Typer and
    ``inspect.signature`` do that while the CLI starts) as unhandled even once it is caught,
    and then ends the process by SIGINT instead of with our exit status. Any later ``exec`` of
    a string clears that mark: this is one."""
    exec("")  # a constant, empty string
