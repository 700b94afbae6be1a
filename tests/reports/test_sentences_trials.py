"""The sentences of tried advice (reports/sentences.py): a proxy is named with its shape, the
init-scale warning says what trial runs found, a lost signal names its layer, and a chain of
many layers is never told it has a single one."""

from __future__ import annotations

from percgrad.reports import sentences
from percgrad.reports.records import Advice, Notice
from percgrad.reports.run import FlowSummary, TheoryReport

THEORY = TheoryReport(1.0, 0.0, [1.0], [1.0], [1.0], 1.0, None)
SETTINGS = {"activation": "tanh", "init": "xavier", "dtype": "float32"}


def test_advice_names_the_run_it_rests_on() -> None:
    at_shape = sentences.advice(Advice("setting", "tanh", "xavier", 1.0, 0.97, "stable", "stable"))
    assert "a trial run of this shape is judged stable" in at_shape
    proxy = sentences.advice(Advice("setting", "relu", "kaiming", 1.0, 1.0, "stable", "stable",
                                    proxy=(128, 8)))
    assert "width 128, batch 8" in proxy and "same depth, σ_w² and σ_b²" in proxy
    assert "theory only" in sentences.advice(Advice("setting", "relu", "kaiming", chi=1.0))
    none = sentences.advice(Advice("none-stable", proxy=(64, 8)))
    assert "none is advised" in none and "width 64, batch 8" in none


def test_init_scale_says_what_its_trial_runs_found() -> None:
    base = Notice("init-scale", count=256, value=256.0)
    assert sentences.notice(base).endswith("try --init xavier or --init kaiming.")
    assert "not judged stable either" in sentences.notice(Notice("init-scale", count=8,
                                                                 value=8.0, where=""))
    assert "try" not in sentences.notice(Notice("init-scale", count=8, value=8.0, where=""))
    one = sentences.notice(Notice("init-scale", count=8, value=8.0, where="kaiming"))
    assert "try --init kaiming: a trial run" in one and "xavier" not in one
    assert "stable as it is" in sentences.notice(Notice("init-scale", count=8, value=8.0,
                                                        where="stable"))


def test_diagnosis_of_a_lost_signal_and_of_an_unformed_share() -> None:
    lost = FlowSummary(None, None, None, None, None, "signal-lost", "stable", None,
                       verdict_layers=[162])
    text = sentences.diagnosis(lost, THEORY, 1000, SETTINGS)
    assert "`h₁₆₂` is exactly 0" in text and "∂E/∂W₁₆₃" in text
    at_output = sentences.diagnosis(lost, THEORY, 162, SETTINGS)
    assert "`h₁₆₂` is exactly 0" in at_output and "∂E/∂W₁₆₃" not in at_output
    unformed = FlowSummary(None, None, None, None, None, "undetermined", "stable", None)
    assert "single layer" not in sentences.diagnosis(unformed, THEORY, 5, SETTINGS)
    assert "single layer" in sentences.diagnosis(unformed, THEORY, 1, SETTINGS)
