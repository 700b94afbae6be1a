"""The classic backprop mistakes that ``--mistake`` plants in the hand-derived pass."""

from __future__ import annotations

from dataclasses import dataclass

from percgrad.catalog.names import resolve


@dataclass(frozen=True)
class MistakeInfo:
    """A classic backprop mistake that ``--mistake`` plants in the hand-derived pass."""

    name: str
    title: str
    """What the mistake is, in a few words."""
    wrong: str
    """The wrong formula, as a learner would write it."""
    right: str
    """The right one."""
    needs: str = ""
    """mse: only with the MSE loss; mean: with a loss that is a mean; square: needs a layer
    with as many outputs as inputs; two-layers: needs a hidden layer of the output's width."""


MISTAKES: dict[str, MistakeInfo] = {
    m.name: m
    for m in (
        MistakeInfo("forget-dphi", "δ without φ′", "δ_k = ∂E/∂h_k", "δ_k = ∂E/∂h_k ⊙ φ′(a_k)"),
        MistakeInfo("no-transpose", "the transposed weight matrix in the δ recursion",
                    "∂E/∂h_k−1 = δ_k W_kᵀ", "∂E/∂h_k−1 = δ_k W_k", needs="square"),
        MistakeInfo("drop-2", "the 2 of the MSE derivative forgotten (the tutorial's c/2.0)",
                    "∂E/∂o = (o−t)/n", "∂E/∂o = 2(o−t)/n", needs="mse"),
        MistakeInfo("wrong-sign", "the sign of the loss gradient flipped", "∂E/∂o = (t−o)·…",
                    "∂E/∂o = (o−t)·…"),
        MistakeInfo("sum-not-mean", "the 1/n of the mean forgotten", "∂E/∂o = 2(o−t)",
                    "∂E/∂o = 2(o−t)/n", needs="mean"),
        MistakeInfo("stale-delta", "δ of layer k reused for layer k−1 without the chain factor",
                    "δ_k−1 = δ_k", "δ_k−1 = (δ_k W_k) ⊙ φ′(a_k−1)", needs="two-layers"),
    )
}


def mistake_name(text: str, option: str = "--mistake") -> str:
    """The planted mistake ``text`` names."""
    return resolve(text, {n: () for n in MISTAKES}, option)
