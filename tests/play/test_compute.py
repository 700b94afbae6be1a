"""play's numbers (play/compute.py): the bars it shows first are the whole vanish run's, the
phase plane is theory's, and a stale computation stops at the engine's next progress call."""

from __future__ import annotations

import math

import pytest

import percgrad
from percgrad.play import compute
from percgrad.play.state import Settings, vanish_options

SETTINGS = Settings(depth=12, width=16, activation="tanh", init="meanfield", sigma_w2=1.5,
                    sigma_b2=0.05, batch=2, seed=4)


def test_the_preview_shows_the_numbers_of_the_whole_run() -> None:
    first = compute.preview(SETTINGS)
    whole = compute.full(SETTINGS)
    vanish = percgrad.vanish(**vanish_options(SETTINGS))
    assert not first.final and whole.final and first.report.summary is None
    for a, b, c in zip(first.report.layers, whole.report.layers, vanish.layers):
        assert a.grad_norm == b.grad_norm == c.grad_norm
        assert a.delta_norm == b.delta_norm == c.delta_norm
        assert a.predicted_factor == b.predicted_factor == c.predicted_factor
    assert vanish.theory is not None
    assert (first.sigma_w2, first.sigma_b2, first.mean_chi) == \
        (whole.sigma_w2, whole.sigma_b2, whole.mean_chi) == \
        (vanish.theory.sigma_w2, vanish.theory.sigma_b2, vanish.theory.mean_chi)
    assert whole.report.check.method == "fast" and whole.report.check.passed


def test_training_is_vanishs_training() -> None:
    s = Settings(depth=6, width=8, activation="tanh", steps=20)
    whole = compute.full(s)
    vanish = percgrad.vanish(**vanish_options(s))
    assert whole.report.history and vanish.history
    assert [h.grad_norm for h in whole.report.history] == [h.grad_norm for h in vanish.history]


def test_a_cancelled_run_stops_at_its_next_progress_call() -> None:
    heard: list[tuple[str, int, int]] = []
    track = compute.tracker(lambda: False, lambda *said: heard.append(said))
    compute.full(Settings(depth=8, width=8), track)
    assert heard and all(isinstance(label, str) for label, _, _ in heard)
    stop = compute.tracker(lambda: True, lambda *said: None)
    with pytest.raises(compute.Cancelled):
        compute.preview(Settings(depth=8, width=8), stop)
    progress_only = {"n": 0}

    def cancelled() -> bool:
        progress_only["n"] += 1
        return progress_only["n"] > 1

    with pytest.raises(compute.Cancelled):
        compute.tracker(cancelled, lambda *said: None)("phase")(1, 2)


def test_the_plane_is_theorys_with_its_critical_line() -> None:
    relu = compute.plane("relu")
    assert len(relu.chi) == compute.PLANE_ROWS and len(relu.chi[0]) == compute.PLANE_COLUMNS
    assert all(c == pytest.approx(2.0) for c in relu.critical)
    assert all((chi < 1) == (w < 2) for row in relu.chi for w, chi in zip(relu.sigma_w2, row))
    tanh = compute.plane("tanh")
    assert tanh.critical[0] == pytest.approx(1.0, abs=1e-6)
    assert all(b is not None and 1 < b < 4 for b in tanh.critical[1:])
    assert compute.plane("tanh") is tanh  # cached
    assert compute.critical("tanh", 0.0) == pytest.approx(1.0, abs=1e-6)
    assert compute.critical("sigmoid", 0.0) is None
    assert all(c is None for c in compute.plane("sigmoid").critical)
    assert not compute._crosses((math.nan, 0.5))


def test_play_leaves_a_core_for_the_screen() -> None:
    import os

    import torch

    before = torch.get_num_threads()
    try:
        threads = compute.leave_a_core()
        assert 1 <= threads <= max(1, (os.cpu_count() or 1) - 1) and torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
