"""Progress that moves with the work (issue 17, item 10; views/progress.py): a phase that
cannot count its work pulses with its time instead of sitting at 0%, a finished phase's row
goes instead of sitting at 100%, and a "working" row fills the time between phases and before
the first, drawn by a timer even when the engine reports nothing."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from percgrad.views import progress
from percgrad.views.progress import IDLE, Board, clock


def _board() -> Board:
    return Board(Console(file=io.StringIO(), force_terminal=True, width=100))


def rows(board: Board) -> dict[str, float | None]:
    """The visible rows: description → total (None: pulsing)."""
    return {t.description: t.total for t in board.bar.tasks if t.visible}


def test_rows_follow_the_phases_under_way() -> None:
    board = _board()
    assert rows(board) == {IDLE: None}
    check = board.track("random-direction check")
    check(0, 1)  # one indivisible step: pulsing, not a bar at 0%
    assert rows(board) == {"random-direction check": None}
    diffs = board.track("finite differences")
    diffs(10, 40)
    assert rows(board) == {"random-direction check": None, "finite differences": 40}
    check(1, 1)
    diffs(40, 40)  # finished rows go: nothing stands at 100%
    assert rows(board) == {IDLE: None}
    check(0, 1)  # the same label later is a new row
    assert rows(board) == {"random-direction check": None}


def test_the_board_is_drawn_before_any_phase_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.05)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with progress.phases(True, console) as track:
        assert track is not None
        time.sleep(0.4)  # an engine busy before its first report
    assert IDLE in buffer.getvalue()


def test_a_phase_is_drawn_however_short(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    buffer = io.StringIO()
    with progress.phases(True, Console(file=buffer, force_terminal=True, width=100)) as track:
        assert track is not None
        step = track("float64 recomputation")
        step(0, 1)
        step(1, 1)
    assert "float64 recomputation" in buffer.getvalue()


def test_clock() -> None:
    assert (clock(None), clock(7.9), clock(125.0)) == ("–", "7 s", "2:05")


def test_a_redirection_ended_inside_leaves_stdout_as_it_was() -> None:
    # inspect runs the user's code as `with progress_for(...), stdout_to_stderr():` — the rows
    # begin inside the redirection; when they stop, stdout must not be left on stderr
    import contextlib
    import sys

    before = sys.stdout
    board = _board()
    with contextlib.redirect_stdout(sys.stderr):
        board.show()
        board.track("finite differences")(1, 4)
    board.close()
    assert sys.stdout is before


def _drawn(board: Board) -> str:
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, width=100, color_system=None).print(
        board.bar.get_renderable())
    return buffer.getvalue()


def test_a_phase_with_counts_is_a_bar_at_its_fraction() -> None:
    board = _board()
    compare = board.track("comparing the gradients, layer by layer")
    compare(1, 200)
    compare(50, 200)  # counted per layer: a bar standing at 25%, not a pulse
    (task,) = [t for t in board.bar.tasks if t.visible]
    assert (task.description, task.completed, task.total) == (
        "comparing the gradients, layer by layer", 50, 200)
    line = _drawn(board)
    assert "comparing the gradients, layer by layer" in line and " 25%" in line
    compare(150, 200)
    assert " 75%" in _drawn(board)
    compare(200, 200)
    assert rows(board) == {IDLE: None}  # done: the row goes


def test_a_pulse_that_starts_counting_becomes_a_bar() -> None:
    board = _board()
    check = board.track("random-direction check")
    check(0, 1)
    assert rows(board) == {"random-direction check": None}
    assert "%" not in _drawn(board)  # a pulse shows its time, no fraction
    check(3, 12)
    assert rows(board) == {"random-direction check": 12}
    assert " 25%" in _drawn(board)
