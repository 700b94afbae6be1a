"""What ``inspect`` and ``check`` found, in English (reports/user_sentences.py)."""

from __future__ import annotations

from percgrad.reports.user import Entry, Note, Step
from percgrad.reports.user_sentences import (
    entry_sentence,
    ladder_sentence,
    listed,
    note_sentence,
    percent,
    shape_text,
)


def test_lists_shapes_and_shares() -> None:
    assert listed(["a", "b"]) == "a, b"
    assert listed([f"fc{k}" for k in range(1, 11)]) == "fc1, fc2, fc3, fc4, fc5, …, fc10 (10)"
    assert shape_text((3, 4)) == "3×4" and shape_text(()) == "scalar"
    assert (percent(None), percent(0.0), percent(0.5), percent(0.004)) == ("—", "0%", "50%", "0.4%")


def test_the_worst_entry_and_how_it_was_settled() -> None:
    ladder = [Step(1e-4, 1.3), Step(1e-5, 1.0000001), Step(1e-6, 1.0)]
    entry = Entry("w[0,1]", (0, 1), analytic=2.0, numeric=1.00000005, rel_error=0.5, ladder=ladder,
                  settled=1)
    assert entry_sentence(entry).startswith("w[0,1]: autograd 2 vs numeric 1")
    assert ladder_sentence(entry).startswith("settled where ε = 1e-05 and 1e-06 agree")
    assert "kink" in ladder_sentence(Entry("x[0]", (0,), 1.0, 0.5, 0.5, ladder, settled=None))
    assert "not called" in note_sentence(Note("not-called", modules=("head",)))
