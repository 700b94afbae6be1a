"""The size guard's arithmetic (runtime/memory.py): the estimate of a run's bytes, in words, and
the refusal of a run that does not fit."""

from __future__ import annotations

import pytest

from percgrad.errors import PercgradError
from percgrad.runtime.memory import PER_LAYER, estimate, guard, human
from percgrad.spec.run import Spec


def _chain(width: int, depth: int, **fields: object) -> Spec:
    return Spec("vanish", (width,) * (depth + 1), device="cpu", **fields)  # type: ignore[arg-type]


def test_the_estimate_grows_with_the_network_and_counts_each_part() -> None:
    small, wide = estimate(_chain(8, 4)), estimate(_chain(64, 4))
    assert wide.weights == 64 * 64 * small.weights // (8 * 8)  # n_params: W only, no bias
    assert wide.total > small.total
    assert small.overhead == 4 * PER_LAYER
    assert estimate(_chain(8, 4, dtype="float64")).weights == 2 * small.weights
    assert estimate(_chain(8, 4, check="off")).check == 0 < small.check
    assert small.total == sum((small.weights, small.activations, small.gradients, small.check,
                               small.report, small.overhead))


def test_bytes_in_words() -> None:
    assert human(512) == "512 B"
    assert human(1536) == "1.5 kB"
    assert human(3 * 2**30) == "3 GB"


def test_a_run_over_the_limit_is_refused_with_its_parts() -> None:
    spec = _chain(256, 20)
    guard(spec, available=None, limit=None, where="cpu")  # nothing known: nothing refused
    guard(spec, available=10**12, limit=None, where="cpu")
    with pytest.raises(PercgradError, match=r"--max-memory is 1 kB.*--depth, --width"):
        guard(spec, available=10**12, limit=1024, where="cpu")
    with pytest.raises(PercgradError, match="is free on cpu"):
        guard(spec, available=1000, limit=None, where="cpu")
