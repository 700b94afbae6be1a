"""A model that produces NaN in one layer: ``logf`` takes the log of a tanh, which is negative for
about half of its inputs. percgrad names it as the first module whose output is not finite.

    percgrad inspect examples/nan_layer.py:build --input-shape 8,16
"""

from collections import OrderedDict

import torch
from torch import Tensor, nn


class LogFeatures(nn.Module):
    """log of its input: NaN wherever the input is negative (the bug: it needs log1p of a
    non-negative value, or a softplus before it)."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.log(x)


def build() -> nn.Module:
    """fc1 → tanh → logf (the NaN) → fc2, seeded."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return nn.Sequential(OrderedDict(
            fc1=nn.Linear(16, 32),
            act1=nn.Tanh(),
            logf=LogFeatures(),
            fc2=nn.Linear(32, 4),
        ))
