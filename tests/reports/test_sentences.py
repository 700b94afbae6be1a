"""Verdict records in plain English (reports/sentences.py): the sentence says what the record
holds."""

from __future__ import annotations

import dataclasses

import pytest

from percgrad.reports import sentences
from percgrad.reports.records import Advice, Mismatch, Notice


def test_a_mismatch_names_the_entry_and_both_values() -> None:
    m = Mismatch("autograd", 0.5, 1e-6, "float32", layer=2, entry="W2[0,1]", analytic=2.0,
                 reference=1.0)
    text = sentences.mismatch(m)
    assert text.startswith("W2: analytic and autograd disagree most at W2[0,1]")
    assert "analytic 2 vs autograd 1" in text and "5.00e-01 > tolerance 1e-06" in text
    assert "round-off" not in text
    assert "float32 round-off" in sentences.mismatch(dataclasses.replace(m, float64_rel_error=1e-9))


def test_notices_and_advice() -> None:
    assert sentences.notice(Notice("kinks", count=3, activation="relu")).startswith("3 finite")
    dead = sentences.notice(Notice("dead-units", layers=(2, 3, 4), value=0.75, count=8))
    assert dead.startswith("layers 2–4: up to 75% of the units are dead on all 8 samples")
    assert sentences.notice(Notice("bound", layers=(3,), run="tanh")).startswith("tanh: ")
    with pytest.raises(ValueError):
        sentences.notice(Notice("no-such-kind"))
    tip = sentences.advice(Advice("setting", activation="tanh", init="xavier", gain=1.0, chi=0.98,
                                  tried="stable"))
    assert "tanh with --init xavier" in tip and "0.98" in tip and "judged stable" in tip


def test_depth_scale_and_mistakes_in_words() -> None:
    assert "edge of chaos" in sentences.depth_scale(None, True, False)
    assert "shrinks by e every ξ layers" in sentences.depth_scale(4.5, False, False)
    assert "grows" in sentences.depth_scale(4.5, False, True)
    assert "--mistake drop-2" in sentences.mistake_caught("drop-2")
    assert sentences.flow_note("narrow").startswith("Mean-field theory")
