"""A deep sigmoid MLP (10 layers of width 32, default init) trained with SGD: σ′ ≤ ¼ at every
layer, so the first layers' gradients are orders of magnitude below the last's from the first
step on. ``percgrad watch examples/vanishing_train.py`` reports it vanishing from step 0 and
names the layers. A few steps later every layer's gradient is as tiny (about 1e-8) and the loss
stays at ln 2: the stack has squashed its input away, so nothing is left to learn from — the
report shows the vanishing verdict end there, next to a flat loss."""

import argparse

import torch
from torch import nn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--depth", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(16, 32), nn.Sigmoid()]
    for _ in range(args.depth - 2):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(32, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x = torch.randn(256, 16)
    y = (x[:, :4].sum(dim=1, keepdim=True) > 0).float()
    for step in range(args.steps):
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 0:
            print(f"step {step}: loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
