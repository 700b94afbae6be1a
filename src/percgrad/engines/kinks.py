"""Units that sit exactly on a kink at the point checked. A ReLU's zeros fed through a batch norm
whose β is exactly 0 (its init) land exactly on the next ReLU's kink, in many units at once;
there the derivative is a convention (relu′(0) = 0) that no finite difference can confirm, and a
random direction's central difference can look smooth while autograd's value differs. The check
then runs where the parameters that are exactly 0 are moved by a hair, which takes those units
off their kinks (and nothing else: the backward under test is the same code)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

KINKED = {torch.relu, torch.relu_, torch.nn.functional.relu, torch.nn.functional.relu6,
          torch.nn.functional.leaky_relu, torch.nn.functional.hardtanh,
          torch.nn.functional.threshold}
"""Functions with a kink at 0 (hardtanh and relu6 also at their caps, not counted)."""
NUDGE = 1e-6
"""How far a parameter that is exactly 0 is moved (times a standard normal draw)."""


class _Count(TorchFunctionMode):
    """Counts the inputs of kinked functions that are exactly 0."""

    def __init__(self) -> None:
        super().__init__()
        self.zeros = 0

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func in KINKED and args and isinstance(args[0], Tensor) and args[0].is_floating_point():
            self.zeros += int((args[0] == 0).sum())
        return func(*args, **(kwargs or {}))


def exact_kinks(model: nn.Module, call: Any) -> int:
    """How many inputs of ReLU-like functions are exactly 0 in ``call()`` (a forward of
    ``model``), nn.ReLU modules and torch.relu / F.relu calls alike."""
    with torch.no_grad(), _Count() as count:
        call()
    return count.zeros


def nudge_zeros(model: nn.Module, seed: int) -> list[str]:
    """Move every parameter entry that is exactly 0 by NUDGE·N(0, 1) (seeded); the names of the
    tensors moved."""
    gen = torch.Generator(device="cpu").manual_seed(seed + 31)
    moved = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            zero = p == 0
            if p.is_floating_point() and bool(zero.any()):
                noise = torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p)
                p.add_(torch.where(zero, NUDGE * noise, torch.zeros_like(p)))
                moved.append(name)
    return moved


def off_kinks(model: nn.Module, call: Any, seed: int) -> tuple[int, int, list[str]]:
    """If some ReLU-like input is exactly 0: nudge the exact-zero parameters. The inputs found
    exactly 0 before and after, and the tensors moved (none when there was no exact kink)."""
    zeros = exact_kinks(model, call)
    if not zeros:
        return 0, 0, []
    moved = nudge_zeros(model, seed)
    return zeros, exact_kinks(model, call) if moved else zeros, moved
