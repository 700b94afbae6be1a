"""Layers as objects, one module per kind, each registered under its catalog entry's name.

Adding a kind: one module here with one class (a subclass of ``Layer`` with ``trace``,
``backward``, ``jacobian`` and, when they differ from a dense layer's, ``create``, ``meanfield``
and ``chi``) decorated with ``@register(NAME)``, plus one ``NormInfo`` entry NAME in
percgrad.catalog.NORMS. Every module of this package is imported here, so nothing else names it.
"""

import importlib
import pkgutil

from percgrad.network.layers.base import Direction, Edit, Layer, Trace, affine
from percgrad.network.layers.dense import Dense
from percgrad.network.layers.layernorm import LayerNorm
from percgrad.network.layers.registry import KINDS, kind, meanfield_maps, register
from percgrad.network.layers.residual import Residual

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["KINDS", "Dense", "Direction", "Edit", "Layer", "LayerNorm", "Residual", "Trace", "affine",
           "kind", "meanfield_maps", "register"]
