"""What a run found, as plain data (NumPy arrays and floats); its JSON document is built by
reports.run_document."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from percgrad.reports.display import Displayable
from percgrad.reports.records import Advice, Mismatch, Notice
from percgrad.reports.run_document import to_json

if TYPE_CHECKING:
    from percgrad.reports.phase import SpectrumReport

"""2: theory.depth_scale is 1/|ln χ̄| (never negative, null when critical)."""


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
class ParamReport:
    """A parameter beyond W and b (layer norm's γ and β): its values and its three gradients."""

    name: str
    """γ3, β3: the symbol and the 1-based layer."""
    value: np.ndarray | None
    grad: Triple


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
    """Fraction of units whose |φ′| is below 10% of its maximum."""
    dead_units: float = 0.0
    """Fraction of units whose φ′ is 0 on every sample of the batch."""
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
    kind: str = "dense"
    """dense, layernorm, residual or residual-layernorm."""
    others: list[ParamReport] = field(default_factory=list)
    """Parameters beyond W and b (layer norm's γ and β)."""
    pre: np.ndarray | None = None
    """a_k = h_k−1 W_kᵀ + b_k, batch × units (None unless tensors are kept)."""
    post: np.ndarray | None = None
    """h_k, batch × units (None unless tensors are kept)."""
    delta: np.ndarray | None = None
    """δ_k = ∂E/∂a_k from the hand-derived pass, batch × units (None unless kept)."""
    dphi: np.ndarray | None = None
    """φ′ at φ's input, batch × units (None unless kept)."""
    post_sample: np.ndarray | None = None
    """h_k of the first sample (always kept: the forward pass as shown)."""


@dataclass
class CheckReport:
    """The verdict: method, tolerance, worst relative error and what failed."""

    method: str
    tolerance: float
    max_rel_error: float | None
    passed: bool | None
    """None when the check does not apply (non-finite values)."""
    failures: list[Mismatch] = field(default_factory=list)
    resolution: float | None = None
    """Absolute resolution of the finite differences (their round-off)."""
    directions: list[dict[str, float | bool]] | None = None
    """fast: per random direction u, uᵀ∇ numeric, analytic and autograd."""
    kinks: int = 0
    unresolved: int = 0
    vacuous: bool = False
    """Every gradient is exactly 0: the comparison proves nothing (passed is None)."""
    inconclusive: bool = False
    """Most random directions could not be judged (passed is None)."""
    mistake: str | None = None
    """The classic mistake planted in the hand-derived pass (``--mistake``)."""


@dataclass
class OutputReport:
    """The output layer's chain-rule factors, for the derivation (batch × outputs each)."""

    pre: np.ndarray
    dE_do: np.ndarray
    do_da: np.ndarray
    delta: np.ndarray


@dataclass
class TheoryReport:
    """Mean-field predictions for a chain (see theory/meanfield.py)."""

    sigma_w2: float
    sigma_b2: float
    sigma_w2_per_layer: list[float]
    q: list[float]
    chi: list[float]
    """Predicted ‖δ_k‖²/‖δ_k+1‖², k = 1…D−1."""
    mean_chi: float | None
    depth_scale: float | None
    """1/|ln χ̄| in layers, never negative; None when critical (infinite) or unknown."""
    arch: str = "plain"
    critical: bool = False
    """χ̄ = 1 within round-off: the depth scale is infinite."""
    growing: bool = False
    """χ̄ > 1: ‖δ‖² grows by e every ``depth_scale`` layers towards the input."""


@dataclass
class FlowSummary:
    """What a chain's gradient does, overall, measured and predicted."""

    grad_decay: float | None
    delta_decay: float | None
    measured_mean_factor: float | None
    predicted_mean_factor: float | None
    median_measured_over_predicted: float | None
    diagnosis: str
    """The verdict (theory.flow.judge_chain): vanishing, exploding, stable, dead, non-finite,
    signal-lost (some h_k exactly 0: ``verdict_layers`` names the first) or undetermined."""
    predicted_diagnosis: str
    """Theory's trend of ‖δ‖² per layer (diagnosis.trend of χ̄)."""
    bound_holds: bool | None
    first_share: float | None = None
    """‖∂E/∂W₁‖ / ‖∂E/∂W_L‖, what the verdict is judged from."""
    verdict_layers: list[int] = field(default_factory=list)
    """Layers the verdict names (dead or non-finite ones)."""
    delta_trend: str = ""
    """The measured trend of ‖δ‖² per layer (diagnosis.trend of the measured factor)."""
    advice: list[Advice] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Kinds of note (see sentences.flow_note): bound-skipped, bound-off, relu-mse, narrow, …"""


@dataclass
class HistoryPoint:
    """One recorded training step."""

    step: int
    loss: float
    delta_norm: list[float]
    grad_norm: list[float]
    rel_error: float


@dataclass
class TrainingReport:
    """How a chain was trained."""

    steps: int
    lr: float
    max_rel_error: float


@dataclass
class CompareInfo:
    """What a comparison varied."""

    by: str
    values: list[str]


@dataclass
class Report(Displayable):
    """Everything one run found; rendering and JSON both read only this."""

    command: str
    version: str
    settings: dict[str, Any]
    """Every option's resolved value, as the JSON document's ``settings``."""
    device: dict[str, str]
    input: np.ndarray | None
    target: np.ndarray | None
    output: np.ndarray | None
    loss: float
    layers: list[LayerReport]
    check: CheckReport
    timing: dict[str, float]
    out: OutputReport | None = None
    warnings: list[Notice] = field(default_factory=list)
    first_nonfinite: str | None = None
    theory: TheoryReport | None = None
    summary: FlowSummary | None = None
    history: list[HistoryPoint] | None = None
    training: TrainingReport | None = None
    compare: CompareInfo | None = None
    label: str | None = None
    """The compared setting this run stands for (a run inside ``runs``)."""
    runs: list[Report] = field(default_factory=list)
    """With ``vanish --compare``: one report per compared setting; this one holds the verdict."""
    spectrum: SpectrumReport | None = None
    """With ``vanish --spectrum``: the singular values of ∂h_L/∂x (see spectrum.py)."""

    @property
    def finite(self) -> bool:
        """False when any loss, gradient or activation overflowed or became NaN."""
        return self.first_nonfinite is None

    @property
    def failed(self) -> bool:
        """True when a gradient check failed (the CLI exits 1)."""
        return self.check.passed is False

    def to_dict(self, timing: bool = False) -> dict[str, Any]:
        """The JSON document as a dict, as ``--json`` prints it (timings null unless ``timing``)."""
        return json.loads(to_json(self, timing))

    def to_json(self, timing: bool = False) -> str:
        """The JSON document as text, as ``--json`` prints it."""
        return to_json(self, timing)
