"""A small CNN with batch norm and dropout: healthy, and its gradient passes the check, which runs
on a float64 copy in eval mode (dropout off, batch norm on its running statistics).

    percgrad inspect examples/small_cnn.py:build --input-shape 8,1,8,8
"""

from collections import OrderedDict

import torch
from torch import nn


def build() -> nn.Module:
    """conv → batch norm → ReLU → max-pool, twice, then average-pool, dropout and a linear head."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(1, 8, 3, padding=1),
            bn1=nn.BatchNorm2d(8),
            relu1=nn.ReLU(),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(8, 16, 3, padding=1),
            bn2=nn.BatchNorm2d(16),
            relu2=nn.ReLU(inplace=True),
            pool2=nn.AdaptiveAvgPool2d(1),
            flat=nn.Flatten(),
            drop=nn.Dropout(0.25),
            fc=nn.Linear(16, 10),
        ))
