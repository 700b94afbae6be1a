"""Judgements as records (reports/records.py): frozen, with defaults for what a kind leaves out,
turned into English only by reports/sentences.py."""

from __future__ import annotations

import dataclasses

import pytest

from percgrad.reports.records import Advice, Mismatch, Notice


def test_records_are_frozen_values() -> None:
    m = Mismatch("autograd", 0.5, 1e-6, "float64", layer=2, entry="W2[0,1]", analytic=2.0,
                 reference=1.0)
    assert m == dataclasses.replace(m)
    assert m != dataclasses.replace(m, layer=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.layer = 3  # type: ignore[misc]
    n = Notice("kinks", count=2, activation="relu")
    assert (n.layers, n.where, n.value, n.run) == ((), None, None, None)
    a = Advice("setting", activation="tanh", init="xavier", chi=1.0)
    assert (a.gain, a.tried) == (1.0, "")
    assert {hash(m), hash(n), hash(a)}  # hashable: usable as set members
