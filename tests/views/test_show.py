"""Reports as shown (views/show.py), against golden files: tests/golden/<name>.txt hold the text
of four representative runs at 80 columns, the processor's name and the timings replaced by
placeholders (see golden_util). After an intended change of the output, regenerate them and
read the diff before committing::

    PERCGRAD_UPDATE_GOLDEN=1 python -m pytest -q -p no:cacheprovider tests/views/test_show.py

The float32 runs' last digits (max|Δ|, rel.err, numeric) are round-off: another CPU or torch
build may change them, and then the files need regenerating there.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

import percgrad
from golden_util import check_golden, golden_text

CPU = {"device": "cpu"}


@functools.cache
def _vanish(items: tuple[tuple[str, Any], ...]) -> Any:
    return percgrad.vanish(**dict(items), **CPU)


def cached_vanish(**options: Any) -> Any:
    """percgrad.vanish on the CPU, computed once per set of options (callers only read it)."""
    return _vanish(tuple(sorted(options.items())))


# ---------------------------------------------------------------- golden files


GOLDEN_RUNS = {
    "single": lambda: percgrad.single(inputs=3, **CPU),
    "single_bce": lambda: percgrad.single(loss="bce", x="1,2", w="0.5,-0.3", **CPU),
    "multi": lambda: percgrad.multi(inputs=3, hidden="4", outputs=2, dtype="float64", **CPU),
    "vanish": lambda: cached_vanish(depth=10),
}


@pytest.mark.parametrize("name", list(GOLDEN_RUNS))
def test_rendered_text_matches_the_golden_file(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    check_golden(name, golden_text(GOLDEN_RUNS[name](), width=80))


def test_each_report_has_its_view() -> None:
    from percgrad.views.show import parts, to_html

    report = percgrad.single(inputs=3, **CPU)
    assert len(parts(report)) > 1
    assert "PASS" in to_html(report, width=100)
    with pytest.raises(TypeError, match="no view shows a dict"):
        parts({"not": "a report"})
