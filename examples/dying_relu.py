"""A ReLU net whose units die after a learning-rate jump: 80 steps at lr 0.01, then lr 0.1 — a few
large steps drive the biases so far negative that most units of a layer are 0 for every sample,
and a dead unit gets no gradient to come back with. ``percgrad watch examples/dying_relu.py``
reports the step where the dead share jumps, and which layer."""

import argparse

import torch
from torch import nn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--jump", type=int, default=80, help="the step where lr jumps")
    parser.add_argument("--lr", type=float, default=0.1, help="the learning rate after the jump")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(256, 16)
    y = x[:, :1] * 5 + 3
    for step in range(args.steps):
        if step == args.jump:
            for group in opt.param_groups:
                group["lr"] = args.lr
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 0:
            print(f"step {step}: loss {loss.item():.4g}")


if __name__ == "__main__":
    main()
