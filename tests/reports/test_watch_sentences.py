"""The sentences of ``watch`` (reports/watch_sentences.py): each verdict and the non-finite record
named with its step, its modules and their types, and numbers true to the verdict's fields."""

from __future__ import annotations

import math

import pytest

from percgrad.reports.numbers import num
from percgrad.reports.user_sentences import percent
from percgrad.reports.watch import (
    ActivationTrack,
    ModuleTrack,
    NonFinite,
    WatchReport,
    WatchVerdict,
)
from percgrad.reports.watch_sentences import (
    healthy_sentence,
    loss_sentence,
    nonfinite_sentence,
    verdict_sentence,
    verdict_title,
    watch_sentences,
)

STEPS = list(range(0, 40, 2))


def _track(name: str, type_: str, scale: float, weight: bool = True) -> ModuleTrack:
    n = len(STEPS)
    return ModuleTrack(name, type_, 100, [f"{name}.weight"], [scale * (1 + k / n) for k in range(n)],
                       [1.0] * n, [1e-3] * n, weight)


def sick_report() -> WatchReport:
    """A run with every kind of verdict, built by hand."""
    mods = [_track("0", "Linear", 1e-4), _track("2", "Linear", 1e-2),
            _track("attn", "SoftmaxByHand", 0.1, weight=False), _track("4", "Linear", 1.0)]
    relu = ActivationTrack("1", "ReLU", "dead", [None, 0.04] + [0.1] * 8 + [0.62] * 10)
    verdicts = [
        WatchVerdict("vanishing", 0, ["0", "2"], 0.003, threshold=0.1, through=10),
        WatchVerdict("dead", 20, ["1"], 0.62, before=0.04, threshold=0.5),
        WatchVerdict("update-high", 20, ["0", "2"], 113.0, threshold=0.1),
        WatchVerdict("update-low", 24, ["4"], 3e-7, threshold=1e-5),
        WatchVerdict("non-finite", 30, ["attn"]),
    ]
    nf = NonFinite(30, "forward", "attn", "SoftmaxByHand", "aten.exp", "examples/diverge.py:31",
                   "e = torch.exp(h)", "nan")
    loss: list[float | None] = [1.0 / (k + 1) for k in range(15)] + [None] * 5
    return WatchReport("diverge.py", ["Net"], 2, STEPS, loss, mods, [relu], verdicts, nf,
                       total_steps=40, exit_code=0)


def test_every_verdict_names_its_step_modules_and_types() -> None:
    report = sick_report()
    for v in report.verdicts:
        text = verdict_sentence(report, v)
        assert text.startswith(verdict_title(v) + ":") or text.startswith(verdict_title(v))
        assert f"step {v.step}" in text
        for name in v.modules:
            assert name in text
        types = {m.name: m.type for m in report.modules} | {"1": "ReLU"}
        assert all(types[n] in text for n in v.modules), text
    assert len(watch_sentences(report)) == len(report.verdicts)


def test_flow_sentence_is_true_to_its_numbers() -> None:
    report = sick_report()
    text = verdict_sentence(report, report.verdicts[0])
    assert text.startswith("VANISHING from step 0 through step 10:")
    assert "the trend of the 3 weight layers" in text  # attn holds no weight matrix
    assert f"0 (Linear)'s ‖∂E/∂W‖ is {num(0.003, 2)} × 4 (Linear)'s (below 0.1)" in text
    assert "the Linear layers 0, 2" in text


def test_dead_and_update_sentences_quote_value_before_and_threshold() -> None:
    report = sick_report()
    dead = verdict_sentence(report, report.verdicts[1])
    assert "DEAD at step 20: 1 (ReLU) has 62% of its units 0 for every sample" in dead
    # the first share recorded is at the second watched step (step 2), not step 0
    assert f"up from {percent(0.04)} at step 2" in dead and "50%" in dead
    high = verdict_sentence(report, report.verdicts[2])
    assert high.startswith("UPDATE RATIO too high from step 20: ‖ΔW‖/‖W‖ median 113 for the "
                           "Linear layers 0, 2, above 0.1")
    assert "far above the usual ~1e-3: the learning rate is too high for them" in high
    low = verdict_sentence(report, report.verdicts[3])
    assert "median 3.0e-07 for 4 (Linear), below 1e-05" in low and "too low for it" in low


def test_nonfinite_sentences_for_every_phase() -> None:
    fwd = sick_report().nonfinite
    assert fwd is not None
    assert nonfinite_sentence(fwd) == (
        "NON-FINITE at step 30: the first non-finite value (nan) was made in the forward pass by "
        "aten.exp in module attn (SoftmaxByHand), examples/diverge.py:31: `e = torch.exp(h)`.")
    bwd = NonFinite(7, "backward", "(model)", "Net", "aten.div (DivBackward0)", "net.py:9",
                    "y = x / s", "inf")
    text = nonfinite_sentence(bwd)
    assert "step 7" in text and "backward pass by aten.div (DivBackward0)" in text
    assert "the model itself (Net)" in text and "net.py:9: `y = x / s`" in text
    loss = NonFinite(23, "loss", op="MeanBackward0 ← PowBackward0", value="inf")
    text = nonfinite_sentence(loss)
    assert text.startswith("NON-FINITE at step 23: the loss is inf")
    assert "outside the models" in text and "MeanBackward0 ← PowBackward0" in text
    assert "gradient is not finite" in nonfinite_sentence(NonFinite(3, "loss"))
    params = nonfinite_sentence(NonFinite(5, "parameters", "fc", "Linear"))
    assert "step 5" in params and "fc (Linear)" in params and "weights" in params
    assert "not located" in nonfinite_sentence(NonFinite(9, "backward"))


def test_healthy_and_empty_runs() -> None:
    report = sick_report()
    report.verdicts, report.nonfinite = [], None
    (text,) = watch_sentences(report)
    assert text.startswith(f"HEALTHY over {len(STEPS)} watched step(s) (every 2nd step of 40)")
    assert "no ReLU layer died" in text
    empty = WatchReport("t.py", [], 1)
    assert healthy_sentence(empty).startswith("NOTHING WATCHED")
    assert loss_sentence(empty) == "no step was watched"


@pytest.mark.parametrize("tail", [0, 5])
def test_loss_sentence(tail: int) -> None:
    report = sick_report()
    if not tail:
        fixed: list[float | None] = [math.nan if v is None else v for v in report.loss[:15]]
        report.loss = fixed + [0.01] * 5
    text = loss_sentence(report)
    assert text.startswith(f"E {num(1.0)} at step 0 → ")
    if tail:
        assert f"{num(1 / 15)} at step 28; no finite loss at the 5 watched step(s) from step 30" \
            in text
    else:
        assert text.endswith(f"{num(0.01)} at step 38")


def test_tiny_updates_without_a_gradient_do_not_blame_the_learning_rate() -> None:
    report = sick_report()
    gone = WatchVerdict("update-low", 10, ["0", "2"], 0.0, threshold=1e-5, cause="no-gradient")
    text = verdict_sentence(report, gone)
    assert "they got no gradient at all" in text and "learning rate is too low" not in text
    faded = WatchVerdict("update-low", 10, ["4"], 1e-9, threshold=1e-5, cause="small-gradient")
    text = verdict_sentence(report, faded)
    assert "the gradient, not the learning rate" in text and "its ‖∂E/∂W‖ fell" in text


def test_one_layer_concerned_is_spoken_of_in_the_singular() -> None:
    report = sick_report()
    one = WatchVerdict("vanishing", 0, ["0"], 0.05, threshold=0.1)
    two = WatchVerdict("vanishing", 0, ["0", "2"], 0.05, threshold=0.1)
    assert "it barely learns while" in verdict_sentence(report, one)
    assert "they barely learn while" in verdict_sentence(report, two)
