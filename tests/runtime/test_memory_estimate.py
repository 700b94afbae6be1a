"""The size guard's estimate (runtime/memory.py) phase by phase, its floors for a user's model
or function, and what it refuses (issue 20, item 3). The calibration itself (within 5 % of the
measured peak RSS) is measured by ``python -m benchmarks.run --only memory``; here, the
structure that calibration rests on."""

from __future__ import annotations

import pytest

from percgrad.errors import PercgradError
from percgrad.runtime.memory import (
    BASELINE,
    LAYER_CHUNK,
    estimate,
    function_floor,
    guard,
    guard_floor,
    model_floor,
)
from percgrad.spec.build import chain_spec, multi_spec, single_spec

MIB = 2**20


def test_the_check_and_the_report_are_not_counted_twice() -> None:
    spec = chain_spec(width=1024, depth=20, device="cpu")  # auto: fast
    est = estimate(spec)
    params = spec.n_params
    # passes: weights and two sets of gradients, float32
    assert est.weights == 4 * params and est.gradients == 8 * params
    # the check: a float64 copy and the float64 analytic gradients, then its rows
    assert 16 * params <= est.check < 19 * params
    # the report adds nothing beyond the check's peak for a vanish run (no tensors kept)
    assert est.report == 0
    assert est.total == sum((est.weights, est.activations, est.gradients, est.check, est.report,
                             est.overhead, est.training))
    assert est.peak == est.total + BASELINE


def test_check_off_is_the_passes_and_the_reports_temporaries() -> None:
    spec = chain_spec(width=2048, depth=10, check="off", device="cpu")
    est = estimate(spec)
    assert est.check == 0
    # two float64 pieces of at most LAYER_CHUNK entries, not a float64 copy of a 2048² layer
    assert est.report == 2 * LAYER_CHUNK * 8
    assert 12 * spec.n_params < est.total < 12.5 * spec.n_params


def test_float64_has_no_separate_float64_gradients() -> None:
    f32 = estimate(chain_spec(width=512, depth=8, device="cpu", check="fast"))
    f64 = estimate(chain_spec(width=512, depth=8, device="cpu", check="fast", dtype="float64"))
    params = 512 * 512 * 8
    assert f64.weights == 2 * f32.weights
    assert f64.check < f32.check + 8 * params  # one float64 copy, no float64 analytic pass


def test_training_adds_after_the_check() -> None:
    spec = chain_spec(width=300, check="off", device="cpu", steps=2)
    plain, trained = estimate(spec), estimate(spec, training=True)
    assert trained.training > 0 and trained.total > plain.total
    assert "training" in dict(trained.parts())


def test_a_wide_single_neuron_is_not_estimated_as_a_square_matrix() -> None:
    # the fast check stacks rows of the layer's outputs, not width² entries (58 TB before)
    spec = single_spec(inputs=1_000_000, device="cpu", check="fast")
    assert estimate(spec).total < 4 * 2**30


def test_kept_tensors_count_for_single_and_multi() -> None:
    spec = multi_spec(inputs=256, hidden="256", outputs=256, device="cpu", check="off")
    assert estimate(spec).report >= 3 * spec.n_params * 8


def test_the_guard_refuses_with_the_parts_and_the_way_out() -> None:
    spec = chain_spec(width=1024, depth=20, device="cpu")
    guard(spec, available=None, limit=None, where="cpu")  # nothing known: nothing refused
    with pytest.raises(PercgradError, match=r"needs about .* \(weights .*numeric check .*\) but "
                                            r"--max-memory is 1 MB; use a smaller --depth"):
        guard(spec, available=None, limit=MIB, where="cpu")


def test_the_floor_of_a_users_model_and_function() -> None:
    parts = dict(model_floor(2**31, 1000, 4, "fast"))
    assert parts["inputs and activations"] == 2**31 * 4 * 4
    assert parts["numeric check"] >= 2**31 * 8 * 2
    assert dict(model_floor(10, 1000, 4, "off"))["numeric check"] == 0
    one = dict(function_floor(10**9, 1, 8, "fast"))
    assert sum(one.values()) > 64 * 10**9  # check torch:sin --shapes 1000000000: refused
    with pytest.raises(PercgradError, match=r"--shapes: this run needs at least about .* but "
                                            r"19 GB is free on cpu"):
        guard_floor(function_floor(10**9, 1, 8, "fast"), int(19 * 2**30 / 0.9), None, "cpu",
                    "--shapes", "--shapes")
    guard_floor(function_floor(10, 1, 8, "fast"), None, None, "cpu", "--shapes", "--shapes")
