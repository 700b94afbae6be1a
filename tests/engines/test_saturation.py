"""Saturated units (engines/saturation.py): |φ′| below a tenth of its supremum."""

from __future__ import annotations

import pytest
import torch

from percgrad.engines.saturation import SATURATION, saturated_share
from percgrad.network.functions import activation


def test_the_share_of_entries_below_a_tenth_of_sup_phi_prime() -> None:
    sigmoid = activation("sigmoid")  # sup σ′ = 1/4
    edge = SATURATION * sigmoid.dphi_sup
    dphi = torch.tensor([0.25, 0.2, edge * 1.01, edge * 0.99, 0.0, 1e-9])
    assert saturated_share(dphi, sigmoid) == pytest.approx(3 / 6)
    relu = activation("relu")
    assert saturated_share(torch.ones(4), relu) == 0.0
