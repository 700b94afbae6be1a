"""vanish reports its work as it goes (issue 17, item 10): every stage between the phases the
engine counts is reported, the long phases count their layers (a bar, not a pulse), each trial
run of the advice moves its bar, and every phase opened is closed."""

from __future__ import annotations

from collections.abc import Callable

from percgrad.engines.vanish import run_vanish
from percgrad.spec.build import chain_spec

COUNTED = {
    # label: its total on a chain of 12 layers
    "drawing the chain; forward and backward passes": 5 * 12,
    "float64 recomputation": 2 * 12,
    "random-direction check": 12 + 1,
    "comparing the gradients, layer by layer": 12,
}


def test_the_long_phases_count_their_layers(every_call: None) -> None:
    seen: list[tuple[str, int, int]] = []

    def track(label: str) -> Callable[[int, int], None]:
        return lambda done, total: seen.append((label, done, total))

    spec = chain_spec(depth=12, width=16, activation="tanh", check="fast", device="cpu")
    run_vanish(spec, track)
    for label, total in COUNTED.items():
        counts = [(d, t) for lab, d, t in seen if lab == label]
        assert {t for _, t in counts} == {total}, (label, counts)  # a bar: never (0, 1)
        done = [d for d, _ in counts]
        assert done == sorted(set(done)), (label, done)  # forward only
        assert done[-1] == total and len(done) >= 12, (label, done)  # per layer, to its end


def test_every_stage_and_every_trial_run_is_reported() -> None:
    seen: list[tuple[str, int, int]] = []

    def track(label: str) -> Callable[[int, int], None]:
        return lambda done, total: seen.append((label, done, total))

    spec = chain_spec(depth=12, width=16, activation="tanh", check="fast", device="cpu")
    report, _ = run_vanish(spec, track)
    labels = list(dict.fromkeys(label for label, _, _ in seen))
    assert labels[0] == "drawing the chain; forward and backward passes"
    for label in ("random-direction check", "comparing the gradients, layer by layer",
                  "theory and diagnosis", "trial runs of the settings to advise"):
        assert label in labels, labels
    # each stage ends before the next begins: one row moves at a time
    assert labels.index("drawing the chain; forward and backward passes") < labels.index(
        "random-direction check") < labels.index("comparing the gradients, layer by layer")
    trials = [(done, total) for label, done, total in seen
              if label == "trial runs of the settings to advise"]
    assert [d for d, _ in trials] == sorted(d for d, _ in trials)  # it moves forward
    assert len({d for d, _ in trials}) > 2  # one step per trial run, not 0% then 100%
    assert report.summary is not None and report.summary.advice
    for label in labels:  # every phase ends at its total
        label_done, label_total = [(d, t) for lab, d, t in seen if lab == label][-1]
        assert label_done >= label_total, label
