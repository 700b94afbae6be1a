"""The progress callbacks engines report through (runtime/progress.py): a Tracker gives each
phase's Progress, called with (done, total)."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

from percgrad.gradcheck import network as numeric
from percgrad.network.net import build_net
from percgrad.runtime.progress import Progress, Tracker
from percgrad.spec.run import Spec


def test_a_tracker_hands_each_phase_a_progress_that_counts_to_its_total() -> None:
    assert get_args(Progress) == ([int, int], None)
    assert get_args(Tracker)[1] == Progress
    seen: dict[str, list[tuple[int, int]]] = {}

    def track(label: str) -> Callable[[int, int], None]:
        return lambda done, total: seen.setdefault(label, []).append((done, total))

    tracker: Tracker = track
    net = build_net(Spec("multi", (3, 2), device="cpu", dtype="float64"))
    numeric.full_gradients(net, progress=tracker("finite differences"))
    (label,) = seen
    done, total = seen[label][-1]
    assert label == "finite differences" and done == total > 0
