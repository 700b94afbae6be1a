"""The package's version (version.py): the one the installed metadata and the package state."""

from __future__ import annotations

import importlib.metadata
import re

import percgrad
from percgrad.version import __version__


def test_the_version_is_the_packages() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    assert percgrad.__version__ == __version__
    assert importlib.metadata.version("percgrad") == __version__
