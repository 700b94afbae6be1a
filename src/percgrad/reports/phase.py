"""``phase`` and ``vanish --spectrum`` as plain data: what the sweep
found at every grid point, the critical lines, the Jacobian's spectrum, and the JSON document
(no torch, no Rich)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from percgrad.reports.display import Displayable
from percgrad.reports.json import SCHEMAS, clean, dumps
from percgrad.spec.phase import TRAINABLE_DEPTHS, TRAINED_FRACTION


@dataclass
class PhasePoint:
    """One network of the sweep: mean-field predictions and what its chain measured."""

    sigma_w2: float
    sigma_b2: float
    q_star: float
    """Fixed point of q ↦ σ_w²·E[φ(√q z)²] + σ_b² (0: the signal dies, ∞: it grows)."""
    chi1: float
    """σ_w²·E[φ′(√q* z)²]: the predicted factor of ‖δ‖² per layer at the fixed point."""
    xi: float | None
    """1/|ln χ₁|: layers over which ‖δ‖² changes by e (None on the critical line)."""
    c_star: float | None
    """Fixed point of the correlation map in [0, 1] (1: ordered; None where q* is 0 or ∞)."""
    predicted_factor: float | None
    """The finite-depth recursion's geometric-mean χ_k over the measured window."""
    predicted_c: float | None
    """The two-input recursion's correlation at the last layer, from the real inputs."""
    measured_factor: float | None
    """(‖δ_a‖²/‖δ_b‖²)^(1/(b−a)) over the window (a, b) of layers."""
    measured_xi: float | None
    measured_c: float | None
    """Correlation of the two inputs' pre-activations at the last layer."""
    measured_q: float | None
    """Mean square of the last layer's pre-activations over the batch."""
    layer_factors: list[float | None] = field(default_factory=list)
    """‖δ_k‖²/‖δ_k+1‖², k = 1…L−1."""
    finite: bool = True
    predicted_trainable: bool | None = None
    """depth ≤ 6ξ (with --train-steps)."""
    trained: bool | None = None
    loss_start: float | None = None
    """Held-out loss before training, as a fraction of the best constant output's."""
    loss_end: float | None = None

    @property
    def ratio(self) -> float | None:
        """measured factor / χ₁."""
        if self.measured_factor is None or not (self.chi1 > 0 and math.isfinite(self.chi1)):
            return None
        return self.measured_factor / self.chi1


@dataclass
class CriticalPoint:
    """Where one row of the grid (one σ_b²) crosses the edge of chaos."""

    sigma_b2: float
    predicted: float | None
    """σ_w² with χ₁ = 1 (root-finding on the mean-field χ₁); None when none below 64."""
    measured: float | None
    """σ_w² where the measured factor crosses 1 (linear in log factor between grid points);
    None when it does not cross within the grid."""
    step: float | None
    """The grid's σ_w² spacing around the predicted value."""

    @property
    def gap(self) -> float | None:
        """|measured − predicted|."""
        if self.predicted is None or self.measured is None:
            return None
        return abs(self.measured - self.predicted)

    @property
    def agrees(self) -> bool | None:
        """Within one grid step; False when only one of the lines crosses inside the grid, None
        when neither does."""
        if self.step is None:  # the predicted line is outside the grid (or nowhere)
            return None if self.measured is None else False
        if self.gap is None:
            return False
        return self.gap <= self.step


@dataclass
class PhaseCheck:
    """The batched hand-derived backward against autograd on a few grid points."""

    points: list[int]
    """Indices (into ``points``) of the networks checked."""
    max_rel_error: float | None
    tolerance: float
    passed: bool | None
    """None when none of the checked networks was finite."""


@dataclass
class TrainingInfo:
    """How ``--train-steps`` trained every point."""

    steps: int
    lr: float
    train_batch: int
    test_batch: int
    task: str
    threshold: float = TRAINED_FRACTION
    trainable_depths: float = TRAINABLE_DEPTHS
    agreement: float | None = None
    """Share of points where trained matches predicted_trainable."""


@dataclass
class PhaseReport(Displayable):
    """What one sweep found; the renderer, the plot and the JSON read only this."""

    version: str
    settings: dict[str, Any]
    device: dict[str, str]
    sigma_w2: list[float]
    sigma_b2: list[float]
    window: tuple[int, int]
    points: list[PhasePoint]
    """Row-major: every σ_w² of the first σ_b², then the next σ_b², …"""
    critical: list[CriticalPoint]
    check: PhaseCheck
    median_ratio: float | None
    """Median over the grid of measured factor / χ₁."""
    training: TrainingInfo | None = None
    timing: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    command: str = "phase"

    def point(self, i_b: int, i_w: int) -> PhasePoint:
        """The point at row ``i_b`` (σ_b²) and column ``i_w`` (σ_w²)."""
        return self.points[i_b * len(self.sigma_w2) + i_w]

    @property
    def failed(self) -> bool:
        """True when the batched backward disagrees with autograd (the CLI exits 1)."""
        return self.check.passed is False

    def to_dict(self, timing: bool = False) -> dict[str, Any]:
        """The JSON document as a dict (timings null unless ``timing``)."""
        doc: dict[str, Any] = {
            "schema": SCHEMAS["phase"],
            "command": self.command,
            "version": self.version,
            "settings": self.settings,
            "device": self.device,
            "grid": {"sigma_w2": self.sigma_w2, "sigma_b2": self.sigma_b2,
                     "order": "row-major: sigma_b2 outer, sigma_w2 inner"},
            "window": {"first_layer": self.window[0], "last_layer": self.window[1]},
            "points": [{**dataclasses.asdict(p), "ratio": p.ratio} for p in self.points],
            "critical": [{**dataclasses.asdict(c), "gap": c.gap, "agrees": c.agrees}
                         for c in self.critical],
            "check": dataclasses.asdict(self.check),
            "median_ratio": self.median_ratio,
            "training": None if self.training is None else dataclasses.asdict(self.training),
            "timing": {k: (v if timing else None) for k, v in self.timing.items()},
            "warnings": list(self.warnings),
        }
        return clean(doc)

    def to_json(self, timing: bool = False) -> str:
        """The JSON document as text, as ``--json`` prints it."""
        return dumps(self.to_dict(timing))


@dataclass
class SpectrumReport:
    """The singular values of the input–output Jacobian ∂h_L/∂x of one sample."""

    sample: int
    singular_values: list[float]
    """Largest first."""
    mean_sq: float
    """Mean of the squared singular values, tr(JJᵀ)/N."""
    var_sq: float
    """Their variance (0: every direction is stretched alike, dynamical isometry)."""
    predicted_mean: float | None
    predicted_var: float | None
    predicted_rel_var: float | None
    """Predicted variance / mean², L/p (i.i.d.) or L(1−p)/p (orthogonal): free of the
    sample-to-sample spread of the mean, which a single sample's Jacobian has."""
    prediction: str
    """Which closed form: linear-gaussian, linear-orthogonal, relu-gaussian, relu-orthogonal,
    or none (measured only)."""
    reason: str
    """Where the prediction comes from, or why there is none."""
    jacrev_rel_error: float
    """max|J − J_jacrev| / max|J_jacrev|: the hand-derived Jacobian against torch.func.jacrev."""
    tolerance: float
    depth: int
    width: int
    init: str
    sigma_w2: float
    """fan_in·Var(W) of the last layer (the init's σ_w²)."""
    label: str | None = None

    @property
    def rel_var(self) -> float | None:
        """variance / mean² of the squared singular values."""
        return self.var_sq / self.mean_sq**2 if self.mean_sq > 0 else None

    @property
    def passed(self) -> bool:
        """The hand-derived Jacobian matches jacrev."""
        return self.jacrev_rel_error <= self.tolerance


def spectrum_document(spectrum: SpectrumReport) -> dict[str, Any]:
    """``spectrum`` in vanish's JSON document."""
    return clean({**dataclasses.asdict(spectrum), "rel_var": spectrum.rel_var,
                  "passed": spectrum.passed})
