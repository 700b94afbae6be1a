"""percgrad's Python face (percgrad/__init__.py and api.py) on its own: unknown keywords refused,
the shared settings of a comparison, PercgradError exported, ``import percgrad`` light until a
run, and reports that serialise to strict JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

import percgrad

CPU = {"device": "cpu"}


def strict_loads(text: str) -> Any:
    """json.loads that refuses NaN, Infinity and -Infinity."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_unknown_keyword_is_refused_not_ignored() -> None:
    with pytest.raises(TypeError):
        percgrad.single(inptus=3, **CPU)
    with pytest.raises(TypeError):
        percgrad.vanish(compare_acts="sigmoid,tanh", **CPU)  # the CLI's internal name


def test_compare_arch_settings_are_those_every_run_shares() -> None:
    """A compared document's top-level ``settings`` leave out what the comparison varies
    (``--compare`` drops ``activation``); with ``--compare-arch`` that is the architecture
    itself *and* the fields that make it (``residual``, ``norm``), which differ from run to
    run. No top-level setting may contradict a run."""
    for kwargs in ({"compare": "sigmoid,tanh"}, {"compare_arch": "plain,residual,layernorm"}):
        doc = percgrad.vanish(depth=3, width=4, **kwargs, **CPU).to_dict(timing=False)
        contradicted = {
            key: [run["settings"].get(key) for run in doc["runs"]]
            for key, value in doc["settings"].items()
            if any(run["settings"].get(key) != value for run in doc["runs"])
        }
        assert contradicted == {}, (kwargs, doc["settings"], contradicted)


def test_percgrad_error_is_exported() -> None:
    from percgrad.errors import PercgradError as Original

    assert percgrad.PercgradError is Original
    assert {"single", "multi", "vanish", "PercgradError"} <= set(percgrad.__all__)


# ---------------------------------------------------------------- import stays light

LIGHT_PROBE = """
import sys
import percgrad
percgrad.single, percgrad.multi, percgrad.vanish, percgrad.PercgradError
for bad in ({"inputs": 0}, {"activation": "sigmod"}):
    try:
        percgrad.single(**bad)
    except percgrad.PercgradError:
        pass
    else:
        raise SystemExit("no error for " + repr(bad))
print(",".join(m for m in ("torch", "numpy") if m in sys.modules) or "none")
report = percgrad.single(device="cpu")
assert report.check.passed is True
print(",".join(m for m in ("torch", "numpy") if m in sys.modules) or "none")
"""


def test_import_percgrad_imports_neither_torch_nor_numpy_until_a_run() -> None:
    out = subprocess.run([sys.executable, "-c", LIGHT_PROBE], capture_output=True, text=True,
                         check=False, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    before, after = out.stdout.split()
    assert before == "none", "importing percgrad (and validating options) imported " + before
    assert set(after.split(",")) == {"torch", "numpy"}


# ---------------------------------------------------------------- strict JSON


@pytest.mark.parametrize(("command", "kwargs"), [
    ("single", {}),
    ("multi", {"hidden": "5,3", "loss": "bce"}),
    ("vanish", {"depth": 6, "width": 4, "steps": 3}),
    ("vanish", {"depth": 4, "width": 4, "compare": "sigmoid,tanh"}),
    # Overflows to ∞ and NaN part-way down the chain: those become null, never NaN.
    ("vanish", {"depth": 30, "width": 8, "activation": "relu", "gain": 100.0}),
])
def test_to_json_is_strict_json(command: str, kwargs: dict) -> None:
    report = getattr(percgrad, command)(**kwargs, **CPU)
    for timing in (True, False):
        text = report.to_json(timing=timing)
        doc = strict_loads(text)
        assert doc == report.to_dict(timing=timing)
    assert strict_loads(report.to_json()) is not None
    if kwargs.get("gain") == 100.0:
        assert not report.finite
        assert doc["loss"] is None
        assert doc["finite"] is False
