"""What a run found, as plain data (NumPy arrays and floats), and its JSON document."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA = 1


@dataclass
class Triple:
    """One quantity computed three ways; ``numeric`` is None when the full check did not run."""

    analytic: np.ndarray | None
    autograd: np.ndarray | None
    numeric: np.ndarray | None = None
    excluded: np.ndarray | None = None
    """True where the numeric value was left out of the check (a kink, or no settled step)."""


@dataclass
class Comparison:
    """How far the analytic gradient is from a reference, and the entry that disagrees most."""

    max_abs_diff: float
    rel_error: float
    worst: str | None = None
    """The entry that disagrees most, as ``W2[3,1]`` (0-based entry, 1-based layer)."""
    worst_values: tuple[float, float] | None = None
    """(analytic, reference) at ``worst``."""
    skipped: int = 0
    """Entries left out because a finite difference straddled a kink."""


@dataclass
class LayerReport:
    """One layer: its weights, its three gradients and their magnitudes."""

    name: str
    shape: tuple[int, int]
    weight: np.ndarray | None
    bias: np.ndarray | None
    grad: Triple
    bias_grad: Triple | None
    weight_norm: float
    grad_norm: float
    """‖∂E/∂W‖_F from autograd."""
    grad_norm_analytic: float
    grad_norm_numeric: float | None
    delta_norm: float
    """‖δ‖_F, δ = ∂E/∂a over the whole batch, from autograd."""
    vs_autograd: Comparison
    vs_numeric: Comparison | None
    mean_abs_dphi: float
    saturated: float
    """Fraction of units whose |φ′(a)| is below 10% of its maximum."""
    finite: bool = True
    underflow: bool = False
    """True where δ underflowed to exactly 0 (this layer or one above it)."""
    kinks: int = 0
    unresolved: int = 0
    """Entries whose finite differences never settled across the step ladder (left out)."""
    measured_factor: float | None = None
    predicted_factor: float | None = None
    bound: float | None = None
    bound_holds: bool | None = None


@dataclass
class CheckReport:
    """The verdict: method, tolerance, worst relative error and what failed."""

    method: str
    tolerance: float
    max_rel_error: float | None
    passed: bool | None
    """None when the check does not apply (non-finite values)."""
    failures: list[str] = field(default_factory=list)
    resolution: float | None = None
    """Absolute resolution of the finite differences (their round-off)."""
    directions: list[dict[str, float | bool]] | None = None
    """fast: per random direction u, uᵀ∇ numeric, analytic and autograd."""
    kinks: int = 0
    unresolved: int = 0


@dataclass
class OutputReport:
    """The output layer's chain-rule factors, for the derivation (batch × outputs each)."""

    pre: np.ndarray
    dE_do: np.ndarray
    do_da: np.ndarray
    delta: np.ndarray


@dataclass
class Report:
    """Everything one run found; rendering and JSON both read only this."""

    command: str
    version: str
    settings: dict[str, Any]
    device: dict[str, str]
    input: np.ndarray | None
    target: np.ndarray | None
    output: np.ndarray | None
    loss: float
    layers: list[LayerReport]
    check: CheckReport
    timing: dict[str, float]
    out: OutputReport | None = None
    warnings: list[str] = field(default_factory=list)
    first_nonfinite: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Command-specific results (vanish: theory, summary, history)."""
    runs: list[Report] = field(default_factory=list)
    """With ``vanish --compare``: one report per compared setting; this one holds the verdict."""

    @property
    def finite(self) -> bool:
        """False when any loss, gradient or activation overflowed or became NaN."""
        return self.first_nonfinite is None


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


def _triple(t: Triple | None) -> dict[str, Any] | None:
    if t is None or (t.analytic is None and t.autograd is None):
        return None
    return {"analytic": t.analytic, "autograd": t.autograd, "numeric": t.numeric,
            "numeric_excluded": t.excluded}


def layer_document(layer: LayerReport) -> dict[str, Any]:
    """One entry of ``layers`` in the JSON document."""
    vs_num = layer.vs_numeric
    return {
        "name": layer.name,
        "shape": list(layer.shape),
        "weight": layer.weight,
        "bias": layer.bias,
        "grad": _triple(layer.grad),
        "bias_grad": _triple(layer.bias_grad),
        "weight_norm": layer.weight_norm,
        "grad_norm": layer.grad_norm,
        "grad_norm_analytic": layer.grad_norm_analytic,
        "grad_norm_numeric": layer.grad_norm_numeric,
        "delta_norm": layer.delta_norm,
        "max_abs_diff": layer.vs_autograd.max_abs_diff,
        "rel_error": layer.vs_autograd.rel_error,
        "worst_entry": layer.vs_autograd.worst,
        "numeric_max_abs_diff": None if vs_num is None else vs_num.max_abs_diff,
        "numeric_rel_error": None if vs_num is None else vs_num.rel_error,
        "numeric_kinks": layer.kinks,
        "numeric_unresolved": layer.unresolved,
        "mean_abs_dphi": layer.mean_abs_dphi,
        "saturated": layer.saturated,
        "finite": layer.finite,
        "underflow": layer.underflow,
        "measured_factor": layer.measured_factor,
        "predicted_factor": layer.predicted_factor,
        "bound": layer.bound,
        "bound_holds": layer.bound_holds,
    }


def _check_document(check: CheckReport) -> dict[str, Any]:
    return {
        "method": check.method,
        "tolerance": check.tolerance,
        "max_rel_error": check.max_rel_error,
        "passed": check.passed,
        "failures": check.failures,
        "resolution": check.resolution,
        "directions": check.directions,
        "kinks": check.kinks,
        "unresolved": check.unresolved,
    }


def document(report: Report) -> dict[str, Any]:
    """The JSON document of one run, as a dict (see the README for every key)."""
    if report.runs:
        return clean({
            "schema": SCHEMA,
            "command": report.command,
            "version": report.version,
            "settings": report.settings,
            "device": report.device,
            **report.extra,
            "check": _check_document(report.check),
            "runs": [document(r) for r in report.runs],
            "warnings": report.warnings,
        })
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "command": report.command,
        "version": report.version,
        "settings": report.settings,
        "device": report.device,
        "input": report.input,
        "target": report.target,
        "output": report.output,
        "loss": report.loss,
        "finite": report.finite,
        "first_nonfinite": report.first_nonfinite,
        "layers": [layer_document(layer) for layer in report.layers],
        "check": _check_document(report.check),
        "timing": report.timing,
        "warnings": report.warnings,
    }
    doc.update(report.extra)
    return clean(doc)


def to_json(report: Report, timing: bool = True) -> str:
    """The JSON document as text: floats at full (repr) precision, NaN and ∞ as null; with
    ``timing`` False the timings are null, so that equal runs give identical documents."""
    doc = document(report)
    if not timing:
        for d in [doc, *doc.get("runs", [])]:
            if "timing" in d:
                d["timing"] = {key: None for key in d["timing"]}
    return json.dumps(doc, indent=2, allow_nan=False)
