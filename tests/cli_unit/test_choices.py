"""The CLI's choice enums (cli/choices.py) are the spec's names, in the spec's order."""

from __future__ import annotations

from percgrad.cli.choices import CheckName, DtypeName
from percgrad.spec.check import METHODS
from percgrad.spec.run import CHECK_NAMES, DTYPE_NAMES


def test_the_choices_are_the_specs_names() -> None:
    assert tuple(c.value for c in CheckName) == CHECK_NAMES == METHODS
    assert tuple(d.value for d in DtypeName) == DTYPE_NAMES
    assert CheckName("fast") is CheckName.fast and CheckName.fast == "fast"  # a str Enum
