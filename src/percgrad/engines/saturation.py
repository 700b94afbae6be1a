"""Saturated units, as both a run's layers and a user's model's modules measure them."""

from __future__ import annotations

from torch import Tensor

from percgrad.network.functions import Activation

SATURATION = 0.1
"""A unit is saturated when |φ′(a)| is below this fraction of sup |φ′|."""


def saturated_share(dphi: Tensor, act: Activation) -> float:
    """The share of the entries of |φ′| (``dphi``) below SATURATION × sup |φ′|."""
    return float((dphi < SATURATION * act.dphi_sup).double().mean())
