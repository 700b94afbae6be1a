"""Every torch-free fact percgrad names: activations, losses, inits, planted mistakes, layer kinds
and architectures, with the resolution of what the user typed. Nothing here imports torch or
NumPy at import time (``percgrad --help`` reads it)."""

from percgrad.catalog.activations import (
    ACTIVATION_NAMES,
    ACTIVATIONS,
    ELU_ALPHA,
    LEAKY_SLOPE,
    SOFTPLUS_THRESHOLD,
    ActivationInfo,
    activation_name,
)
from percgrad.catalog.architectures import (
    LN_EPS,
    NORMS,
    NormInfo,
    arch_fields,
    arch_name,
    arch_of,
    archs,
    describe,
    legend,
    norm_name,
)
from percgrad.catalog.inits import INIT_NAMES, INITS, InitInfo, init_name
from percgrad.catalog.losses import LOSS_NAMES, LOSSES, LossInfo, loss_name
from percgrad.catalog.mistakes import MISTAKES, MistakeInfo, mistake_name
from percgrad.catalog.names import resolve

__all__ = [
    "ACTIVATIONS", "ACTIVATION_NAMES", "ELU_ALPHA", "INITS", "INIT_NAMES", "LEAKY_SLOPE", "LN_EPS",
    "LOSSES", "LOSS_NAMES", "MISTAKES", "NORMS", "SOFTPLUS_THRESHOLD", "ActivationInfo", "InitInfo",
    "LossInfo", "MistakeInfo", "NormInfo", "activation_name", "arch_fields", "arch_name", "arch_of",
    "archs", "describe", "init_name", "legend", "loss_name", "mistake_name", "norm_name", "resolve",
]
