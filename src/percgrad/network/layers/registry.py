"""The registry: each catalog layer kind (``--norm`` name) → the class that computes it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from percgrad.catalog import NORMS
from percgrad.network.layers.base import Layer
from percgrad.theory.meanfield import LayerMap, Skip

KINDS: dict[str, type[Layer]] = {}
"""Layer classes by the name of their catalog entry (percgrad.catalog.NORMS)."""

L = TypeVar("L", bound=type[Layer])


def register(name: str) -> Callable[[L], L]:
    """Class decorator: the layer kind of catalog entry ``name``."""

    def add(cls: L) -> L:
        KINDS[name] = cls
        return cls

    return add


def kind(name: str) -> type[Layer]:
    """The class of layer kind ``name`` (a catalog entry without a class is a bug: say so)."""
    if name not in KINDS:
        raise LookupError(f"layer kind {name!r} has no class registered (catalog: {', '.join(NORMS)}; "
                          f"registered: {', '.join(KINDS)})")
    return KINDS[name]


def meanfield_maps(norm: str, skips: Sequence[bool]) -> list[LayerMap]:
    """Theory's map of every layer of a chain of ``norm`` layers, ``skips[k]`` where layer k has a
    skip connection."""
    cls = kind(norm)
    return [Skip(cls) if skip else cls for skip in skips]
