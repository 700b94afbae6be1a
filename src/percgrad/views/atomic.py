"""Files written whole or not at all: --save and --plot write to a temporary name beside the
target and ``os.replace`` it into place, so that a Ctrl-C, a full disk or an error halfway leaves
no half-written file behind (and an existing file untouched)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _mode(path: Path) -> int:
    """The permissions the file gets: an existing file's own, else what the umask allows."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[str]:
    """A temporary name in ``path``'s folder to write to; when the block ends it replaces
    ``path`` (atomically), when it raises (KeyboardInterrupt too) it is removed."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".part", dir=folder)
    os.close(fd)
    try:
        yield temporary
        os.chmod(temporary, _mode(path))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
