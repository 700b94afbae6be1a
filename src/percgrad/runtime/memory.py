"""Estimating the bytes a run needs before anything is allocated (plain arithmetic, no torch)."""

from __future__ import annotations

from dataclasses import dataclass

from percgrad.errors import PercgradError
from percgrad.spec.run import Spec

CHECK_CHUNK = 48 * 2**20
"""The finite-difference check's batched pass (numeric.CHUNK_BYTES)."""
PER_LAYER = 16 * 2**10
"""Bytes each layer costs beyond its numbers: tensor objects, the report's rows (measured:
about 14 kB a layer on a chain of width 1)."""
HEADROOM = 0.9
"""Use at most this fraction of the memory available."""


@dataclass(frozen=True)
class Estimate:
    """Bytes by purpose; ``total`` is what the size guard compares."""

    weights: int
    activations: int
    gradients: int
    check: int
    report: int
    overhead: int

    @property
    def total(self) -> int:
        """All of it."""
        return (self.weights + self.activations + self.gradients + self.check + self.report
                + self.overhead)


def estimate(spec: Spec, training: bool = False) -> Estimate:
    """Weights, activations (ours and autograd's), two sets of gradients and δ, the float64 copy
    of the numeric check, and the report's NumPy copies."""
    size = 8 if spec.dtype == "float64" else 4
    params = spec.n_params
    units = sum(spec.sizes[1:])
    act = spec.batch * (units + spec.sizes[0])
    weights = params * size * (2 if training else 1)
    activations = 4 * act * size  # pre and post, ours and autograd's graph
    gradients = 2 * (params + act) * size
    method = spec.resolved_check()
    check = 0
    if method != "off":
        widest = max(spec.sizes)
        row = spec.batch * widest * 8 * 4  # one perturbed network's a, h and temporaries
        check = params * 8 + 2 * act * 8
        if method == "full":
            check += min(CHECK_CHUNK, 2 * params * row)
        else:
            check += 2 * 4 * widest * widest * 8 + 8 * row
    report = 4 * params * 8 if spec.keep_tensors else 0
    return Estimate(weights, activations, gradients, check, report, PER_LAYER * spec.depth)


def human(n: float) -> str:
    """Bytes for people: 1.5 GB, 820 MB."""
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def guard(spec: Spec, available: int | None, limit: int | None, where: str,
          training: bool = False) -> None:
    """Refuse a run whose estimate exceeds ``limit`` (the user's) or the memory ``available``."""
    est = estimate(spec, training)
    budget = limit if limit is not None else (None if available is None else int(available * HEADROOM))
    if budget is None or est.total <= budget:
        return
    parts = ", ".join(
        f"{name} {human(v)}" for name, v in (
            ("weights", est.weights), ("activations", est.activations),
            ("gradients", est.gradients), ("numeric check", est.check), ("report", est.report),
            ("per-layer overhead", est.overhead),
        ) if v
    )
    source = f"--max-memory is {human(limit)}" if limit is not None else f"{human(budget)} is free on {where}"
    sizes = "--depth, --width" if spec.command == "vanish" else "--inputs, --outputs, --hidden"
    raise PercgradError(
        f"this run needs about {human(est.total)} ({parts}) but {source}; "
        f"use a smaller {sizes} or --batch, --check off, or set --max-memory"
    )
