"""The API's argument checks (spec/arguments.py): each kind of value, each failure a PercgradError
naming the option."""

from __future__ import annotations

import numpy as np
import pytest

from percgrad.errors import PercgradError
from percgrad.spec import arguments as arg


@pytest.mark.parametrize(("value", "ok"), [(3, True), (True, False), (2.5, False), ("3", False),
                                           (np.int64(3), False), (None, False)])
def test_whole_takes_python_ints_only(value: object, ok: bool) -> None:
    if ok:
        assert arg.whole(value, "--depth", low=1) == value
    else:
        with pytest.raises(PercgradError) as err:
            arg.whole(value, "--depth", low=1)
        assert err.value.option == "--depth"


def test_whole_bounds_name_the_range() -> None:
    with pytest.raises(PercgradError, match="from 1 to 1,000,000"):
        arg.whole(arg.MAX_STEPS + 1, "--steps", 1, arg.MAX_STEPS)


@pytest.mark.parametrize("value", ["false", "true", 0, 1, None])
def test_flag_refuses_truthy_stand_ins(value: object) -> None:
    with pytest.raises(PercgradError) as err:
        arg.flag(value, "--bias")
    assert err.value.option == "--bias"
    assert arg.flag(False, "--bias") is False


def test_number_refuses_bools_and_strings() -> None:
    assert arg.number(2, "--gain") == 2.0
    for bad in (True, "1.0", None):
        with pytest.raises(PercgradError):
            arg.number(bad, "--gain")


def test_unknown_keywords_are_named_and_are_type_errors() -> None:
    with pytest.raises(arg.UnknownArgument, match="depht") as err:
        arg.known({"depht": 3}, ["depth", "width"], "vanish")
    assert isinstance(err.value, TypeError)
