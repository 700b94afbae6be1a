"""A deep sigmoid MLP with PyTorch's default init: its gradient vanishes towards the input.

    percgrad inspect examples/deep_sigmoid.py:build --input-shape 32,64

Each sigmoid multiplies the back-propagated gradient by σ′ ≤ 1/4 and nn.Linear's default init
keeps the weights small, so the first layers get a gradient orders of magnitude below the
last's: they barely learn.
"""

from collections import OrderedDict

import torch
from torch import nn

DEPTH = 10
WIDTH = 64


def build() -> nn.Module:
    """DEPTH × (Linear(WIDTH, WIDTH), Sigmoid), seeded, with PyTorch's default init."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for k in range(1, DEPTH + 1):
            layers[f"fc{k}"] = nn.Linear(WIDTH, WIDTH)
            layers[f"sig{k}"] = nn.Sigmoid()
        return nn.Sequential(layers)
