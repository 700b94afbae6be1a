"""Loading the user's code (engines/user_code.py): the names of a function's inputs, and an
autograd Function class used through ``apply``."""

from __future__ import annotations

import math

import torch

from functions_util import LinearTanh, ModernSoftplus, plain_mix
from functions_util import random_inputs as _inputs
from percgrad.engines.user_code import parameter_names, resolve_function


def test_parameter_names_of_functions_and_autograd_functions():
    assert parameter_names(plain_mix, 2) == ["x", "y"]
    assert parameter_names(LinearTanh.apply, 2) == ["x", "w"]
    assert parameter_names(ModernSoftplus.apply, 1) == ["x"]
    assert parameter_names(torch.abs, 1) in (["input"], ["arg0"])


def test_an_autograd_function_class_is_used_through_apply():
    fn, name = resolve_function(LinearTanh)
    assert name == "LinearTanh.apply"
    assert math.isfinite(float(fn(*_inputs([(2, 3), (3, 2)])).sum()))
