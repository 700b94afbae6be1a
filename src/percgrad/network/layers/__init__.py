"""Layers as objects, one module per kind, each registered under its catalog entry's name.

Adding a kind: one class (a subclass of ``Layer`` with ``trace``, ``backward``, ``jacobian`` and,
when it differs from a dense layer's, ``create``, ``meanfield`` and ``chi``) decorated with
``@register(NAME)``, plus one ``NormInfo`` entry NAME in percgrad.catalog.NORMS.
"""

from percgrad.network.layers.base import Direction, Edit, Layer, Trace, affine
from percgrad.network.layers.dense import Dense
from percgrad.network.layers.layernorm import LayerNorm
from percgrad.network.layers.registry import KINDS, kind, meanfield_maps, register
from percgrad.network.layers.residual import Residual

__all__ = ["KINDS", "Dense", "Direction", "Edit", "Layer", "LayerNorm", "Residual", "Trace", "affine",
           "kind", "meanfield_maps", "register"]
