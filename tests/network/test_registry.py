"""The layer registry: every catalog layer kind has a class and every class a catalog entry; each
class is the mean-field map theory composes (the dense map reproduces the classical recursion)."""

from __future__ import annotations

import pytest
import torch

from percgrad import catalog
from percgrad.network.functions import activation
from percgrad.network.layers import KINDS, Dense, LayerNorm, kind, meanfield_maps
from percgrad.theory.meanfield import PLAIN, Signal, Skip, predict
from percgrad.theory.moments import moments


def test_every_catalog_kind_has_a_class_and_every_class_an_entry() -> None:
    assert set(KINDS) == set(catalog.NORMS)
    assert kind("none") is Dense and kind("layer") is LayerNorm


def test_a_kind_without_a_class_is_named_in_the_error() -> None:
    with pytest.raises(LookupError, match="'rms' has no class registered"):
        kind("rms")


@pytest.mark.parametrize("norm", sorted(catalog.NORMS))
def test_create_gives_the_catalog_parameters(norm: str) -> None:
    w, b = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    layer = kind(norm).create(activation("tanh"), w, b)
    assert layer.names == ("W", "b", *catalog.NORMS[norm].params)
    assert layer.params[0] is w and layer.params[1] is b


def test_maps_follow_the_skips() -> None:
    maps = meanfield_maps("layer", [False, True, True])
    assert maps[0] is LayerNorm and isinstance(maps[1], Skip) and maps[1].inner is LayerNorm


def test_the_dense_map_is_the_classical_recursion() -> None:
    step = Dense.meanfield("tanh", 1.5, 0.1, Signal(0.8, 0.0), None)
    q = 1.5 * 0.8 + 0.1
    assert step.q == q and step.v == q
    assert (step.out.p, step.r) == moments("tanh", q)
    assert Dense.chi(2.0, 0.3, 0.9) == PLAIN.chi(2.0, 0.3, 0.9) == 2.0 * 0.3
    th = predict("tanh", [1.5] * 4, [0.1] * 4, 0.8, [Dense] * 4)
    assert th.chi == predict("tanh", [1.5] * 4, [0.1] * 4, 0.8).chi
