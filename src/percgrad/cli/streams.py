"""stdout and stderr as the CLI finds them: closed (``>&-``), unable to encode percgrad's symbols
(``PYTHONIOENCODING=ascii``), a pipe whose reader went away (``| head``) or a full disk
(``> /dev/full``). Only the standard library is imported here.

Policy:

* a stream that cannot encode φ, ‖ or the box lines writes an ASCII look-alike of the same
  width instead (φ → f, — → -, ‖ → |, ² → 2 …; anything else → ?), so the tables stay aligned;
  Rich draws ASCII boxes on such a stream by itself. ``--json`` escapes instead (``\\u03c6``),
  so the document stays exact.
* a closed stdout is refused before anything runs (exit 2): there is nowhere to print.
* a reader that goes away (``percgrad vanish | head -3``) is not an error of the run: stdout is
  pointed at /dev/null, --save and --plot are still written, and the exit status is the run's own
  (0, or 1 when its check failed), silently, as ``git log | head`` is silent.
* any other failure to write stdout (ENOSPC) is an Error line naming stdout, exit 2.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import sys
import unicodedata
from typing import Any, TextIO

HANDLER = "percgrad-ascii"
PROBE = "φ‖─—²"
"""Characters percgrad prints: a stream that cannot encode them gets the ASCII fallback."""

_LOOK_ALIKE = {
    **dict.fromkeys("—–−‐‑─━═┄┈╌", "-"),
    **dict.fromkeys("│┃║‖┆┊╎", "|"),
    **dict.fromkeys("╭╮╰╯┌┐└┘├┤┬┴┼╔╗╚╝╠╣╦╩╬┏┓┗┛┣┫┳┻╋╞╡╪", "+"),
    **dict.fromkeys("█▉▊▋▌▍▎▏▇▆▅▄▃▂▁■▪", "#"),
    **dict.fromkeys("·•∙⋅…⋯", "."),
    **dict.fromkeys("✔✓", "v"),
    **dict.fromkeys("✘✗×", "x"),
    **dict.fromkeys("′‘’", "'"),
    **dict.fromkeys("″“”", '"'),
    "≤": "<", "≥": ">", "≈": "~", "→": ">", "←": "<", "±": "+", "∂": "d", "∑": "S", "√": "V",
    "∞": "8", "∘": "o", "⊙": "o", "°": "o",
    "α": "a", "β": "b", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "n", "θ": "o", "κ": "k",
    "λ": "l", "μ": "u", "ν": "v", "ξ": "x", "π": "p", "ρ": "r", "σ": "s", "τ": "t", "φ": "f",
    "ϕ": "f", "χ": "x", "ψ": "y", "ω": "w", "Δ": "D", "Σ": "S", "Φ": "F", "Ω": "W",
}


def look_alike(char: str) -> str:
    """One ASCII character standing for ``char`` (``?`` when none is obvious)."""
    if char in _LOOK_ALIKE:
        return _LOOK_ALIKE[char]
    base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    return base if len(base) == 1 else "?"


def _ascii_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(look_alike(c) for c in exc.object[exc.start:exc.end]), exc.end


codecs.register_error(HANDLER, _ascii_fallback)


def can_encode(stream: Any, text: str = PROBE) -> bool:
    """Whether ``stream`` can write ``text`` as it is."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def json_for(stream: Any, text: str) -> str:
    """``text`` (a JSON document) with every character ``stream`` cannot encode as a JSON
    escape (what ``ensure_ascii`` writes): outside strings a JSON document is ASCII anyway."""
    if can_encode(stream, text):
        return text

    def escape(match: re.Match[str]) -> str:
        units = match.group().encode("utf-16-be")
        return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}"
                       for i in range(0, len(units), 2))

    return re.sub(r"[^\x00-\x7f]", escape, text)


MAX_TERMINAL = 10_000
"""COLUMNS or LINES above this is not a terminal's size but a typo."""


def sane_terminal_size() -> None:
    """Drop a COLUMNS or LINES that is not a plain size (``'²'``, 5,000 digits, 0): Rich would
    fail on it (it reads the variables with str.isdigit and int)."""
    for name in ("COLUMNS", "LINES"):
        value = os.environ.get(name)
        if value is None:
            continue
        body = value.strip()
        if not (body.isascii() and body.isdigit() and len(body) <= 5
                and 0 < int(body) <= MAX_TERMINAL):
            del os.environ[name]


def prepare() -> bool:
    """Give a stream that cannot encode percgrad's symbols the ASCII fallback, a closed stdout
    or stderr a /dev/null descriptor (so that no file opened later lands on fd 1 or 2), and drop
    a COLUMNS or LINES that is not a size. False when stdout is closed (nothing can be printed)."""
    sane_terminal_size()
    open_stdout = sys.stdout is not None
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream: TextIO | None = getattr(sys, name)
        if stream is None:
            _occupy(fd)
            continue
        if not can_encode(stream):
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.reconfigure(errors=HANDLER)  # type: ignore[attr-defined]
    return open_stdout


def _occupy(fd: int) -> None:
    """Put /dev/null on descriptor ``fd`` if it is closed."""
    try:
        os.fstat(fd)
    except OSError:
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def silence(stream: Any) -> None:
    """Point ``stream``'s descriptor at /dev/null: what it still holds, and anything written
    later, is dropped without an error (a reader gone, a full disk)."""
    try:
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
    except (AttributeError, ValueError, OSError):  # io.UnsupportedOperation is both
        return
    try:
        os.dup2(null, fd)
    except OSError:
        pass
    finally:
        os.close(null)


def say(line: str) -> None:
    """Write ``line`` to descriptor 2 directly (when stderr's own stream has failed), or not at
    all."""
    with contextlib.suppress(OSError):
        os.write(2, (line + "\n").encode("ascii", errors=HANDLER))


def finish() -> None:
    """Flush stdout and stderr now, so that the interpreter's own flush at exit cannot fail
    (which would print 'Exception ignored …' and exit 120)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except (OSError, ValueError):
            silence(stream)
