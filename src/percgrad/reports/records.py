"""Judgements as records: what failed or deserves a warning, where (layer and entry), the
values, the tolerance and what would help. Only the renderers turn them into English."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mismatch:
    """The hand-derived gradient disagrees with a reference beyond the tolerance."""

    against: str
    """autograd, numeric (a finite difference per entry), direction (a random-direction
    finite difference) or training (autograd at a recorded training step)."""
    rel_error: float
    tolerance: float
    dtype: str
    layer: int | None = None
    """1-based layer, when one entry is named."""
    entry: str | None = None
    """The entry that disagrees most, as ``W2[3,1]``."""
    analytic: float | None = None
    reference: float | None = None
    direction: int | None = None
    """1-based random direction (``against == "direction"``)."""
    float64_rel_error: float | None = None
    """The same formula in float64 against the reference, when that one matches: the gap is
    round-off of the compute dtype amplified by the network, not the derivation."""
    run: str | None = None
    """The compared setting this belongs to (``vanish --compare``)."""


@dataclass(frozen=True)
class Notice:
    """Something a reader needs to know to trust (or doubt) the numbers."""

    kind: str
    """nonfinite, underflow, unsettled, kinks, bound, training-stopped, first-layer-plain."""
    layers: tuple[int, ...] = ()
    """1-based layers concerned."""
    where: str | None = None
    """What is affected, e.g. ``pre-activation a3`` (nonfinite); for init-scale (vanish), the
    inits whose trial run of the chain is judged stable, comma-separated ('' none: another init
    alone does not mend it; ``stable``: the chain is stable as it is, nothing tried), None where
    nothing was tried (single, multi)."""
    count: int = 0
    """How many entries or steps (unsettled, kinks, training-stopped)."""
    dtype: str = ""
    activation: str = ""
    value: float | None = None
    """A figure the sentence needs: the smallest magnitude of the dtype (underflow), the
    learning rate (training-stopped)."""
    dphi: float | None = None
    """mean |φ′| of the first layer concerned (saturated)."""
    run: str | None = None


@dataclass(frozen=True)
class Advice:
    """Another setting that theory puts closer to χ = 1 and a trial run judged stable (or a fact
    about the activation)."""

    kind: str
    """setting, none-stable (no candidate's trial run was judged stable), or sigmoid-cap."""
    activation: str = ""
    init: str = ""
    gain: float = 1.0
    chi: float | None = None
    diagnosis: str = ""
    """Theory's trend for that setting."""
    tried: str = ""
    """The verdict of the trial run with that setting ('' when not tried)."""
    proxy: tuple[int, int] | None = None
    """(width, batch) of the smaller run that stood in for the chain's shape (same depth, σ_w²
    and σ_b²) when it was too large to run again; None: the trial ran at the chain's shape."""
