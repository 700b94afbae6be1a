"""The one domain exception (errors.py): a message, and the option it comes from."""

from __future__ import annotations

import pytest

from percgrad.errors import PercgradError


def test_the_option_leads_the_message() -> None:
    error = PercgradError("must be at least 1", "--depth")
    assert (error.message, error.option) == ("must be at least 1", "--depth")
    assert str(error) == "--depth: must be at least 1"
    assert str(PercgradError("no option")) == "no option"
    with pytest.raises(PercgradError, match="--depth: must"):
        raise error
