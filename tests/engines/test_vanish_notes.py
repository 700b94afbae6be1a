"""The notes under vanish's diagnosis say why a number is missing: a bound turned off with
--no-bound is not "skipped because it would take a while" on a chain of four 3-unit layers."""

from __future__ import annotations

import percgrad


def test_a_bound_turned_off_is_not_said_to_be_too_slow() -> None:
    off = percgrad.vanish(depth=4, width=3, bound=False, check="off", device="cpu")
    assert off.summary is not None and "bound-off" in off.summary.notes
    assert "bound-skipped" not in off.summary.notes
    auto = percgrad.vanish(depth=4, width=3, check="off", device="cpu")
    assert auto.summary is not None
    assert not {"bound-off", "bound-skipped"} & set(auto.summary.notes)  # computed: cheap
