"""A run's report as a JSON document (reports/run_document.py): document() and to_json()."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from percgrad.engines import perceptron as experiment
from percgrad.reports.json import SCHEMAS
from percgrad.reports.run_document import document, to_json
from percgrad.spec.run import Spec


def _no_constants(name: str):
    raise AssertionError(f"JSON contains the non-standard constant {name}")


def _loads(text: str):
    return json.loads(text, parse_constant=_no_constants)


def _report(**kw):
    spec = dict(device="cpu", dtype="float64", seed=3, bias=True, batch=2)
    spec.update(kw)
    return experiment.run(Spec("multi", (3, 4, 2), **spec))


def test_document_is_json_ready_and_matches_to_json():
    report = _report()
    doc = document(report)
    assert doc["schema"] == SCHEMAS["single"]
    text = json.dumps(doc, allow_nan=False)
    assert _loads(text) == _loads(to_json(report, timing=True))
    assert doc["loss"] == report.loss
    assert doc["layers"][0]["grad"]["analytic"] == report.layers[0].grad.analytic.tolist()


def test_to_json_timing_false_nulls_every_timing():
    report = _report()
    assert all(isinstance(v, float) for v in report.timing.values())
    without = _loads(to_json(report, timing=False))
    assert set(without["timing"]) == set(report.timing)
    assert all(v is None for v in without["timing"].values())
    with_timing = _loads(to_json(report, timing=True))
    assert with_timing["timing"] == pytest.approx(report.timing)
    # Only the timings differ.
    with_timing["timing"] = without["timing"]
    assert with_timing == without
    # The report itself is left as it was.
    assert all(isinstance(v, float) for v in report.timing.values())


def test_to_json_is_identical_for_equal_runs():
    assert to_json(_report(), timing=False) == to_json(_report(), timing=False)


def test_to_json_floats_round_trip_exactly():
    report = _report()
    doc = _loads(to_json(report))
    assert doc["loss"] == report.loss
    assert np.array_equal(np.array(doc["layers"][1]["weight"]), report.layers[1].weight)
    assert np.array_equal(np.array(doc["input"]), report.input)


def test_to_json_never_emits_nan_for_an_overflowing_run():
    # Weights ~1e30 in float32: the second layer overflows to inf, the gradients become NaN.
    report = experiment.run(Spec("multi", (3, 8, 8, 1), activation="identity", gain=1e30,
                                 device="cpu", dtype="float32", seed=0))
    assert not report.finite
    assert report.check.passed is None
    values = [report.loss, *np.ravel(report.layers[-1].grad.autograd)]
    assert not all(math.isfinite(v) for v in values)
    doc = _loads(to_json(report))  # parse_constant raises on NaN, Infinity, -Infinity
    assert doc["finite"] is False
    assert doc["first_nonfinite"]
    assert doc["check"]["passed"] is None
    assert doc["warnings"]


def test_to_json_never_emits_nan_when_values_are_injected():
    report = _report()
    report.loss = float("nan")
    report.layers[0].grad_norm = float("inf")
    report.layers[0].grad.analytic[0, 0] = np.nan
    report.check.max_rel_error = float("-inf")
    doc = _loads(to_json(report))
    assert doc["loss"] is None
    assert doc["layers"][0]["grad_norm"] is None
    assert doc["layers"][0]["grad"]["analytic"][0][0] is None
    assert doc["check"]["max_rel_error"] is None
