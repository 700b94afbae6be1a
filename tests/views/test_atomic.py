"""Files written whole or not at all (views/atomic.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from percgrad.views.atomic import replacing


def test_the_file_appears_whole_when_the_block_ends(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    with replacing(path) as temporary:
        Path(temporary).write_text("whole", encoding="utf-8")
        assert not path.exists() and Path(temporary).parent == tmp_path
    assert path.read_text(encoding="utf-8") == "whole"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_an_error_halfway_leaves_the_old_file_and_no_part(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt), replacing(path) as temporary:
        Path(temporary).write_text("half", encoding="utf-8")
        raise KeyboardInterrupt
    assert path.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["out.txt"]
