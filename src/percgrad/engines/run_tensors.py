"""The tensors of one run (Run) and what both running it and reporting on it read: where
values first turn non-finite, and the progress of each phase."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from percgrad.gradcheck.network import NumericResult
from percgrad.network.functions import Activation
from percgrad.network.net import Net
from percgrad.network.passes import Forward, Gradients
from percgrad.runtime.progress import Progress, Tracker
from percgrad.spec.run import Spec


@dataclass
class Run:
    """The tensors of a run, kept for commands that look further (vanish, training)."""

    spec: Spec
    net: Net
    fwd: Forward
    analytic: Gradients
    autograd: Gradients
    numeric: NumericResult | None
    device: torch.device
    analytic64: Gradients | None = None
    """The analytic gradient recomputed in float64 (when the check ran in another dtype): it
    tells a wrong derivation from float32 round-off amplified by the network."""

    @property
    def act(self) -> Activation:
        """φ of the output layer (every layer's, in the nets percgrad builds)."""
        return self.net.layers[-1].act


FINITE_CHUNK = 2**20
"""Entries checked together by one isfinite call (a deep chain of narrow layers has thousands of
tiny tensors; one call per tensor costs more than the check itself)."""


def _all_finite(tensors: list[Tensor]) -> bool:
    """Whether every entry of ``tensors`` is finite: small ones joined into chunks of at most
    FINITE_CHUNK entries, so that memory stays bounded and calls few."""
    group: list[Tensor] = []
    size = 0
    for t in [*tensors, None]:
        if t is None or (group and size + t.numel() > FINITE_CHUNK):
            if group and not bool(torch.isfinite(torch.cat([g.reshape(-1) for g in group])).all()):
                return False
            group, size = [], 0
        if t is not None:
            group.append(t)
            size += t.numel()
    return True


def first_nonfinite(fwd: Forward, grads: list[Gradients]) -> str | None:
    """Where a value first turned NaN or ±∞: forward, then the loss, then each backward pass."""
    everything = [t for tr in fwd.traces for t in (tr.a, tr.z, tr.out)] + [fwd.loss.reshape(1)]
    everything += [t for g in grads for t in (*g.deltas, *g.weights)]
    if len({t.dtype for t in everything}) == 1 and _all_finite(everything):
        return None  # the common case, in few calls; the search below names the first culprit
    for k, tr in enumerate(fwd.traces):
        if not bool(torch.isfinite(tr.a).all()):
            return f"layer {k + 1} pre-activation a{k + 1}"
        if tr.z is not tr.a and not bool(torch.isfinite(tr.z).all()):
            return f"layer {k + 1} normalised pre-activation z{k + 1}"
        if not bool(torch.isfinite(tr.out).all()):
            return f"layer {k + 1} output h{k + 1}"
    if not bool(torch.isfinite(fwd.loss)):
        return "the loss"
    for g in grads:
        weights = g.weights  # a list built on each access: once per pass keeps this linear in depth
        for k in range(len(weights) - 1, -1, -1):
            if not bool(torch.isfinite(g.deltas[k]).all()):
                return f"layer {k + 1} back-propagated gradient δ{k + 1}"
            if not bool(torch.isfinite(weights[k]).all()):
                return f"layer {k + 1} gradient ∂E/∂W{k + 1}"
    return None


def stage(track: Tracker | None, label: str) -> Progress | None:
    """The progress of the phase ``label`` (None without a tracker)."""
    return None if track is None else track(label)
