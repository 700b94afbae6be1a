"""The JSON documents' shared rules: one ``clean``, one schema number per document, one dump."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

SCHEMAS = {"single": 2, "multi": 2, "vanish": 3, "inspect": 3, "check": 3, "phase": 1, "watch": 1}
"""The schema of each command's document; a change of its keys or meaning bumps its number (the
README's JSON section lists what each number means)."""


def clean(value: Any) -> Any:
    """JSON-ready: arrays to nested lists, non-finite floats to None, tuples to lists."""
    if isinstance(value, np.ndarray):
        return clean(value.tolist())
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def dumps(doc: dict[str, Any]) -> str:
    """The document as text: floats at full (repr) precision, NaN and ∞ as null."""
    return json.dumps(clean(doc), indent=2, allow_nan=False)


def timings(values: dict[str, float], shown: bool) -> dict[str, float | None]:
    """Measured timings, or null for each (so that equal runs give identical documents)."""
    return dict(values) if shown else {key: None for key in values}
