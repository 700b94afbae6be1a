"""Every torch-free fact of a loss E(o, t): names and the formulas shown."""

from __future__ import annotations

from dataclasses import dataclass

from percgrad.catalog.names import resolve


@dataclass(frozen=True)
class LossInfo:
    """One loss E(o, t): names and the formulas shown."""

    name: str
    aliases: tuple[str, ...]
    formula: str
    grad_formula: str
    """∂E/∂o."""
    needs_unit_interval: bool = False
    """Outputs must lie in (0, 1) (and targets in [0, 1])."""
    cancels_sigmoid: bool = False
    """With a sigmoid output, ∂E/∂o·σ′ cancels to (o−t)/n (computed fused, from the logits)."""
    mean: bool = True
    """E is a mean over the n = batch × outputs terms (False: a plain sum)."""
    uses_target: bool = True


LOSSES: dict[str, LossInfo] = {
    lo.name: lo
    for lo in (
        LossInfo("mse", ("l2", "mean-squared-error", "squared"), "E = (1/n) Σ (o−t)²",
                 "∂E/∂o = 2(o−t)/n"),
        LossInfo("bce", ("binary-cross-entropy", "logloss", "log-loss"),
                 "E = −(1/n) Σ [t·ln o + (1−t)·ln(1−o)]", "∂E/∂o = (o−t) / (n·o(1−o))",
                 needs_unit_interval=True, cancels_sigmoid=True),
        LossInfo("sum", ("output", "raw", "none", "identity"),
                 "E = Σ o (the output itself, no target)", "∂E/∂o = 1", mean=False,
                 uses_target=False),
    )
}

LOSS_NAMES = tuple(LOSSES)


def loss_name(text: str, option: str = "--loss") -> str:
    """The loss ``text`` names."""
    return resolve(text, {n: lo.aliases for n, lo in LOSSES.items()}, option)
