"""One ``explain`` topic's worked example as plain data (reports/explain.py)."""

from __future__ import annotations

import dataclasses

import pytest

from percgrad.engines.explain import example
from percgrad.reports.explain import Example


def test_an_example_is_a_frozen_record_of_named_numbers() -> None:
    ex = Example("delta", {"a": 1.0})
    with pytest.raises(dataclasses.FrozenInstanceError):
        ex.topic = "chi"  # type: ignore[misc]
    computed = example("delta")
    assert isinstance(computed, Example) and computed.topic == "delta"
    assert all(isinstance(v, float) for v in computed.values.values())
