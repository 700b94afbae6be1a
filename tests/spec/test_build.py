"""Options → Spec (spec/build.py)."""

from __future__ import annotations

import pytest

from percgrad.errors import PercgradError
from percgrad.spec.build import chain_spec


def test_size_is_refused_before_anything_runs() -> None:
    with pytest.raises(PercgradError) as err:
        chain_spec(depth=5000, width=2048, spectrum=True)
    assert err.value.option == "--spectrum"
