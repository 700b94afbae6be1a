"""Snapshots of ``percgrad play``'s screen (pytest-textual-snapshot) at 80×24 and 120×40, after
every worker has finished. ``pytest tests/play/test_snapshots.py --snapshot-update`` rewrites
them after an intended change; read the SVGs in tests/play/__snapshots__/ before committing."""

from __future__ import annotations

from typing import Any

import pytest

from percgrad.play.app import PlayApp
from percgrad.play.state import Settings

pytest.importorskip("pytest_textual_snapshot")  # the snap_compare fixture (.[dev])

SCREENS = [
    ("sigmoid-80x24", Settings(), (80, 24)),
    ("tanh-critical-120x40", Settings(depth=12, width=64, activation="tanh", init="meanfield",
                                      sigma_w2=1.0, batch=4), (120, 40)),
]


@pytest.mark.parametrize(("settings", "size"), [(s, z) for _, s, z in SCREENS],
                         ids=[name for name, _, _ in SCREENS])
def test_the_screen(snap_compare: Any, settle: Any, monkeypatch: pytest.MonkeyPatch,
                    settings: Settings, size: tuple[int, int]) -> None:
    """In monochrome (NO_COLOR), which keeps the snapshots small and shows what it looks like."""
    monkeypatch.setenv("NO_COLOR", "1")

    async def settled(pilot: Any) -> None:
        await settle(pilot)

    assert snap_compare(PlayApp(settings), terminal_size=size, run_before=settled)
