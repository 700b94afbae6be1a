"""play's panels drawn as text (play/widgets.py, play/pages.py): vanish's numbers and sentences,
laid out for the width they get."""

from __future__ import annotations

import math

import pytest

from percgrad.play import compute, pages
from percgrad.play.plane import plane_rows, plane_view
from percgrad.play.state import READING_ROWS, SETTING_ROWS, Play, Settings
from percgrad.play.widgets import (
    bars_view,
    controls_view,
    picks,
    shown_at_init,
    shown_in_training,
    theory_deltas,
    verdict_view,
)
from percgrad.reports import sentences
from percgrad.reports.numbers import num


@pytest.fixture(scope="module")
def frame() -> compute.Frame:
    return compute.full(Settings(depth=20, width=4, activation="tanh"))


def test_picks_keep_both_ends() -> None:
    assert picks(5, 10) == [0, 1, 2, 3, 4]
    chosen = picks(50, 8)
    assert chosen[0] == 0 and chosen[-1] == 49 and len(chosen) <= 8
    assert picks(50, 1) == [0, 49]


def test_theory_ticks_follow_chi_down_from_the_last_layer() -> None:
    assert theory_deltas([1.0, 1.0, 2.0], [0.25, 0.25, None]) == [0.5, 1.0, 2.0]
    assert theory_deltas([1.0, 1.0, 2.0], [None, 0.25, None])[0] is None
    assert theory_deltas([1.0, 0.0], [1.0, None]) == [None, None]


@pytest.mark.parametrize("width", [40, 52, 90])
def test_the_bars_show_every_layers_numbers_within_their_width(frame: compute.Frame,
                                                                width: int) -> None:
    text = bars_view(shown_at_init(frame.report, "at init"), width, 30).plain
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines[1:]), text
    for k, layer in enumerate(frame.report.layers):
        row = next(line for line in lines if line.split()[:1] == [str(k + 1)])
        assert num(layer.grad_norm, 3) in row and num(layer.delta_norm, 3) in row
        if width >= 52:
            assert num(layer.predicted_factor, 3) in row


def test_a_short_panel_shows_both_ends_of_the_chain(frame: compute.Frame) -> None:
    text = bars_view(shown_at_init(frame.report, "at init"), 60, 8).plain
    assert "5/20 layers" in text
    rows = [line.split()[0] for line in text.splitlines()[2:-1]]
    assert rows[0] == "1" and rows[-1] == "20"


def test_training_bars_are_the_recorded_steps() -> None:
    whole = compute.full(Settings(depth=5, width=4, activation="tanh", steps=20))
    hist = whole.report.history
    assert hist is not None
    shown = shown_in_training(whole.report, len(hist) - 1)
    assert shown.grad == hist[-1].grad_norm and "step 20 of 20" in shown.title
    assert shown.measured[0] == pytest.approx((hist[-1].delta_norm[0] / hist[-1].delta_norm[1]) ** 2)


def test_the_controls_list_every_setting_and_reading(frame: compute.Frame) -> None:
    text = controls_view(Play(frame.settings, cursor=1), frame, 28).plain
    for row in (*SETTING_ROWS, *READING_ROWS):
        assert row.label in text
    assert "d D" in text and "✔ pass" in text and num(frame.mean_chi, 3) in text
    assert "▸ width" in text
    waiting = controls_view(Play(), None, 28).plain
    assert "…" in waiting


def test_the_plane_shows_the_chains_own_row_with_its_critical_line() -> None:
    b2 = compute.PLANE_SIGMA_B2
    assert plane_rows(b2, 3, 0.05) == [len(b2) - 1, b2.index(0.05), 0]
    assert plane_rows(b2, 3, None) == [len(b2) - 1, round((len(b2) - 1) / 2), 0]
    assert plane_rows(b2, 20, 0.3) == list(range(len(b2)))[::-1]
    plane = compute.plane("tanh")
    line = next(line for line in plane_view(plane, (1.761, 0.05), 30, 5, "plain").plain.splitlines()
                if line.startswith("0.05"))
    crit = plane.critical[b2.index(0.05)]  # 1.761: the point is on its own row's line
    assert crit is not None and line.index("●") == 5 + int(crit / 4 * 25) and "┃" not in line


def test_the_plane_marks_the_critical_line_and_the_point() -> None:
    plane = compute.plane("tanh")
    text = plane_view(plane, (1.0, 0.0), 30, 8, "plain").plain
    assert "┃" in text and "●" in text and "·" in text and "▒" in text
    assert "▶" in plane_view(plane, (256.0, 0.0), 30, 8, "plain").plain
    assert "▲" in plane_view(plane, (1.0, 2.0), 30, 8, "plain").plain
    assert "(plain)" in plane_view(plane, None, 30, 8, "residual").plain
    assert "computing" in plane_view(None, None, 30, 8, "plain").plain


def test_the_verdict_uses_vanishs_sentences_within_its_budget(frame: compute.Frame) -> None:
    report = frame.report
    assert report.summary is not None and report.theory is not None
    full = verdict_view(frame, 200).plain
    why = sentences.diagnosis(report.summary, report.theory, 20, report.settings).replace("`", "")
    assert why in full.replace("\n  ", " ") and report.summary.diagnosis.upper() in full
    assert "PASS" in full
    for budget in (3, 6, 9):
        assert len(verdict_view(frame, 60, budget=budget).plain.splitlines()) <= budget
    stale = verdict_view(frame, 60, "computing: x 1/2", stale=True, budget=6).plain
    assert stale.startswith("computing: x 1/2")
    preview = compute.preview(frame.settings)
    assert verdict_view(preview, 60, "working").plain == "working"
    assert math.isfinite(preview.sigma_w2)


def test_the_help_page_lists_every_key() -> None:
    text = pages.help_body().plain
    assert "d D" in text and "σ_w²" in text and "quit" in text and "explain" in text
    assert pages.help_page().key == "question_mark" and pages.explain_page("x").key == "e"
