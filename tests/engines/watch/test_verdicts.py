"""Verdicts over a run (engines/watch/verdicts.py) from hand-made tracks: the flow's first
step and end, the layers on the trend, dying ReLUs, update ratios held past a threshold."""

from __future__ import annotations

from percgrad.engines.watch.verdicts import (
    dead_verdicts,
    flow_verdicts,
    update_verdicts,
    verdicts,
)
from percgrad.reports.watch import ActivationTrack, ModuleTrack, NonFinite


def _track(name: str, grads: list[float | None], ratios: list[float | None] | None = None,
           layer: bool = True) -> ModuleTrack:
    n = len(grads)
    return ModuleTrack(name, "Linear", 10, [], grads, [1.0] * n, ratios or [1e-3] * n, layer)


def test_the_flow_turns_vanishing_at_its_step_and_ends_when_it_recovers() -> None:
    steps = [0, 10, 20, 30, 40, 50]
    tracks = [_track("0", [1.0, 1e-3, 1e-3, 1e-3, 1.0, 1.0]),
              _track("1", [1.0, 1e-2, 1e-2, 1e-2, 1.0, 1.0]), _track("2", [1.0] * 6)]
    found = flow_verdicts(tracks, steps)
    assert len(found) == 1
    v = found[0]
    assert (v.kind, v.step, v.through) == ("vanishing", 10, 30)
    assert v.modules == ["0", "1"] and v.value is not None and v.value < 0.1


def test_a_flow_that_flickers_for_fewer_than_three_steps_is_no_verdict() -> None:
    steps = list(range(8))
    tracks = [_track("0", [1.0, 1e-3, 1.0, 1e-3, 1e-3, 1.0, 1.0, 1.0]), _track("1", [1.0] * 8)]
    assert flow_verdicts(tracks, steps) == []
    # fewer steps watched than three: all of them must hold
    assert [v.step for v in flow_verdicts([_track("0", [1e-3, 1e-3]), _track("1", [1.0, 1.0])],
                                          [0, 5])] == [0]


def test_frozen_layers_without_a_gradient_are_left_out_of_the_flow() -> None:
    tracks = [_track("frozen", [None, None]), _track("a", [1.0, 1.0]), _track("b", [2.0, 2.0])]
    assert flow_verdicts(tracks, [0, 1]) == []


def test_a_relu_layer_dies_when_its_share_jumps_past_one_half() -> None:
    acts = [ActivationTrack("1", "ReLU", "dead", [None, 0.05, 0.1, 0.6, 0.7]),
            ActivationTrack("3", "ReLU", "dead", [0.55, 0.6, 0.6, 0.6, 0.6]),  # always was
            ActivationTrack("5", "Tanh", "saturated", [0.0, 0.9, 0.9, 0.9, 0.9])]
    found = dead_verdicts(acts, [0, 1, 2, 3, 4])
    assert [(v.step, v.modules, v.value, v.before) for v in found] == [(3, ["1"], 0.6, 0.05)]


def test_an_update_ratio_must_stay_past_its_threshold() -> None:
    steps = list(range(6))
    tracks = [_track("a", [1.0] * 6, [1e-3, 0.5, 1e-3, 0.5, 0.5, 0.5]),  # high from step 3
              _track("b", [1.0] * 6, [1e-7] * 6),                        # low from step 0
              _track("c", [1.0] * 6, [0.5, 1e-3, 0.5, 1e-3, 0.5, 1e-3])]  # never 3 in a row
    found = {(v.kind, v.step): v.modules for v in update_verdicts(tracks, steps)}
    assert found == {("update-high", 3): ["a"], ("update-low", 0): ["b"]}


def test_the_verdicts_come_in_the_order_of_their_steps() -> None:
    tracks = [_track("a", [1.0] * 4, [1e-7] * 4)]
    found = verdicts(tracks, [], [0, 1, 2, 3], NonFinite(2, "forward", "a", "Linear"))
    assert [(v.kind, v.step) for v in found] == [("update-low", 0), ("non-finite", 2)]


def test_tiny_updates_are_blamed_on_the_gradient_when_it_is_gone() -> None:
    steps = list(range(5))
    dead = _track("dead", [1.0, 0.0, 0.0, 0.0, 0.0], [1e-3, 0.0, 0.0, 0.0, 0.0])
    faded = _track("faded", [1.0, 1e-8, 1e-8, 1e-8, 1e-8], [1e-3, 1e-9, 1e-9, 1e-9, 1e-9])
    slow = _track("slow", [1.0] * 5, [1e-7] * 5)
    found = {v.modules[0]: v.cause for v in update_verdicts([dead, faded, slow], steps)}
    assert found == {"dead": "no-gradient", "faded": "small-gradient", "slow": None}
