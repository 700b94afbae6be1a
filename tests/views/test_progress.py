"""Progress bars (views/progress.py): one per phase on a (forced) terminal, none off a terminal,
when disabled or for a quick run."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from percgrad import api
from percgrad.views import progress


def _terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=100), buffer


def test_phases_draw_one_bar_per_phase_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    console, buffer = _terminal()
    with progress.phases(True, console) as track:
        assert track is not None
        spec = api.chain_spec(depth=6, width=16, batch=4, check="full", device="cpu",
                              dtype="float32")
        api.run_chain(spec, api.comparison("sigmoid,tanh", None, None), track)
    text = buffer.getvalue()
    for label in ("runs by activation", "finite differences", "float64 recomputation"):
        assert label in text, label


def test_no_bar_off_a_terminal_or_when_disabled() -> None:
    buffer = io.StringIO()
    with progress.phases(True, Console(file=buffer, force_terminal=False)) as track:
        assert track is None
    console, buffer = _terminal()
    with progress.phases(False, console) as track:
        assert track is None
    assert buffer.getvalue() == ""


def test_a_quick_run_shows_nothing() -> None:
    console, buffer = _terminal()
    with progress.phases(True, console) as track:
        assert track is not None
        track("finite differences")(5, 10)  # before SHOW_AFTER_S: no bar yet
    assert "finite differences" not in buffer.getvalue()
