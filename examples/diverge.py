"""A training run that diverges: the learning rate (1.0) is too high, the weights grow, and a
gate written by hand (exp(h) / Σ exp(h), without subtracting the max first) overflows to inf,
then NaN, at step 22. ``percgrad watch examples/diverge.py`` names that step, the module (2,
Gate), the op (aten.exp) and this file's line; ``--lr 0.1`` trains without trouble."""

import argparse

import torch
from torch import nn


class Gate(nn.Module):
    """Softmax weights over the features, by hand."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        e = torch.exp(self.proj(h))  # overflows once proj(h) > 88
        return h * e / e.sum(dim=1, keepdim=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--lr", type=float, default=1.0)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), Gate(32), nn.Linear(32, 1))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    x = torch.randn(128, 8)
    y = 3 * x[:, :1]
    for step in range(args.steps):
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0:
            print(f"step {step}: loss {loss.item():.4g}")


if __name__ == "__main__":
    main()
