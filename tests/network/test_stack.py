"""Chains as one batched stack (network/stack.py): the normalised backward's log-norms equal the
plain backward's."""

from __future__ import annotations

import torch

from percgrad.engines import phase as engine
from percgrad.network import stack as batched
from percgrad.network.functions import activation
from percgrad.spec.phase import phase_spec

CPU = torch.device("cpu")


def test_normalised_log_norms_equal_the_plain_backward() -> None:
    spec = phase_spec(sigma_w2="0.7,3", sigma_b2="0.1", depth=8, width=24, batch=3, device="cpu")
    stack = engine.draw_stack(spec, CPU, torch.float64)
    act = activation("tanh")
    rows = stack.x.expand(2, *stack.x.shape).contiguous()
    pre, post = batched.forward(stack.weights, stack.biases, rows, act)
    logs, _ = batched.backward(stack.weights, pre, post, act, True, stack.readout)
    _, deltas = batched.backward(stack.weights, pre, post, act, False, stack.readout)
    plain = torch.stack([d.square().sum(dim=(1, 2)).log() for d in deltas])
    assert torch.allclose(logs, plain, rtol=1e-12, atol=1e-12)
