"""The JSON documents' shared rules (reports/json.py): clean()."""

from __future__ import annotations

import json

import numpy as np

from percgrad.reports.json import clean


def test_clean_non_finite_floats_become_none():
    assert clean(float("nan")) is None
    assert clean(float("inf")) is None
    assert clean(float("-inf")) is None
    assert clean(np.float32("nan")) is None
    assert clean(np.float64("inf")) is None
    assert clean(1.5) == 1.5
    assert clean(np.float32(0.25)) == 0.25 and type(clean(np.float32(0.25))) is float


def test_clean_arrays_become_lists():
    out = clean(np.array([[1.0, np.nan], [np.inf, -2.0]]))
    assert out == [[1.0, None], [None, -2.0]]
    assert type(out) is list and all(type(row) is list for row in out)
    assert clean(np.array([1, 2], dtype=np.int64)) == [1, 2]
    assert clean(np.zeros((0, 3))) == []


def test_clean_recurses_and_converts_numpy_scalars():
    value = {"a": (1.0, float("nan")), "b": [np.int64(3), np.bool_(True)], "c": {"d": np.inf},
             "e": "text", "f": None, "g": True}
    out = clean(value)
    assert out == {"a": [1.0, None], "b": [3, True], "c": {"d": None}, "e": "text", "f": None,
                   "g": True}
    assert type(out["b"][0]) is int and type(out["b"][1]) is bool
    json.dumps(out, allow_nan=False)


def test_dumps_is_strict_and_timings_are_null_unless_shown():
    from percgrad.reports.json import SCHEMAS, dumps, timings

    text = dumps({"loss": float("nan"), "grad": np.array([0.1, np.inf])})
    assert json.loads(text) == {"loss": None, "grad": [0.1, None]}
    assert "NaN" not in text and "Infinity" not in text
    assert timings({"forward_s": 0.5}, shown=True) == {"forward_s": 0.5}
    assert timings({"forward_s": 0.5}, shown=False) == {"forward_s": None}
    assert set(SCHEMAS) >= {"single", "multi", "vanish", "inspect", "check", "phase"}
