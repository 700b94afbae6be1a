"""Choice enums shared by the CLI's options (no torch, no Rich)."""

from __future__ import annotations

from enum import Enum


class ActivationName(str, Enum):
    """--activation choices."""

    sigmoid = "sigmoid"
    tanh = "tanh"
    relu = "relu"
    leaky_relu = "leaky-relu"
    gelu = "gelu"
    identity = "identity"


class LossName(str, Enum):
    """--loss choices."""

    mse = "mse"
    bce = "bce"


class InitName(str, Enum):
    """--init choices."""

    normal = "normal"
    pytorch = "pytorch"
    xavier = "xavier"
    kaiming = "kaiming"
    orthogonal = "orthogonal"


class CheckName(str, Enum):
    """--check choices."""

    auto = "auto"
    full = "full"
    fast = "fast"
    off = "off"


class DtypeName(str, Enum):
    """--dtype choices."""

    float32 = "float32"
    float64 = "float64"
