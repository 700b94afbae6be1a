"""Building the network: weights by init scheme from a seeded CPU generator, then moved."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from percgrad.spec import Spec

KAIMING_GAINS = {
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "leaky-relu": math.sqrt(2.0 / (1.0 + 0.01**2)),
    # calculate_gain has no entry for GELU; its positive half behaves like ReLU.
    "gelu": math.sqrt(2.0),
    "identity": 1.0,
}


@dataclass
class Net:
    """A perceptron's tensors: weights (out, in) from the input side, biases, input and target."""

    weights: list[Tensor]
    biases: list[Tensor | None]
    x: Tensor
    """Inputs, shape (batch, inputs)."""
    t: Tensor
    """Targets, shape (batch, outputs)."""

    @property
    def depth(self) -> int:
        """Number of layers."""
        return len(self.weights)

    def to(self, device: torch.device | str, dtype: torch.dtype) -> Net:
        """A copy on ``device`` in ``dtype`` (values copied, never shared)."""

        def move(t: Tensor) -> Tensor:
            return t.detach().to(device=device, dtype=dtype, copy=True)

        return Net(
            [move(w) for w in self.weights],
            [None if b is None else move(b) for b in self.biases],
            move(self.x),
            move(self.t),
        )


def weight_std(init: str, gain: float, activation: str, fan_in: int, fan_out: int) -> float:
    """Standard deviation of a weight under ``init`` (for ``orthogonal``, that of a random entry)."""
    if init == "normal":
        return gain
    if init == "pytorch":
        return gain / math.sqrt(3.0 * fan_in)  # U(−1/√fan_in, 1/√fan_in)
    if init == "xavier":
        return gain * math.sqrt(2.0 / (fan_in + fan_out))
    if init == "kaiming":
        return gain * KAIMING_GAINS[activation] / math.sqrt(fan_in)
    if init == "orthogonal":
        return gain / math.sqrt(max(fan_in, fan_out))
    raise ValueError(init)


def bias_std(init: str, gain: float, fan_in: int) -> float:
    """Standard deviation of a bias under ``init``: N(0, gain²) for normal, nn.Linear's for
    pytorch, zero otherwise (the usual choice with xavier, kaiming and orthogonal)."""
    if init == "normal":
        return gain
    if init == "pytorch":
        return gain / math.sqrt(3.0 * fan_in)
    return 0.0


def _scratch(buffers: dict[tuple[int, ...], Tensor], shape: tuple[int, ...]) -> Tensor:
    """A float64 buffer of ``shape``, reused from layer to layer: freed float64 temporaries
    would otherwise stay in the process (about 2× the weights' memory at width 512)."""
    if shape not in buffers:
        buffers[shape] = torch.empty(shape, dtype=torch.float64)
    return buffers[shape]


def _weight(spec: Spec, fan_in: int, fan_out: int, gen: torch.Generator,
            buffers: dict[tuple[int, ...], Tensor]) -> Tensor:
    shape = (fan_out, fan_in)
    buf = _scratch(buffers, shape)
    if spec.init == "pytorch":
        bound = 1.0 / math.sqrt(fan_in)
        torch.rand(shape, generator=gen, dtype=torch.float64, out=buf)
        return buf.mul_(2).sub_(1).mul_(bound * spec.gain)
    if spec.init == "orthogonal":
        flat = torch.randn(
            (max(shape), min(shape)), generator=gen, dtype=torch.float64
        )
        q, r = torch.linalg.qr(flat)
        q = q * torch.sign(torch.diagonal(r))  # the sign fix of torch.nn.init.orthogonal_
        if fan_out < fan_in:
            q = q.T
        return spec.gain * q
    std = weight_std(spec.init, spec.gain, spec.activation, fan_in, fan_out)
    return torch.randn(shape, generator=gen, dtype=torch.float64, out=buf).mul_(std)


def _bias(spec: Spec, fan_in: int, fan_out: int, gen: torch.Generator) -> Tensor | None:
    if not spec.bias:
        return None
    if spec.init == "pytorch":
        bound = 1.0 / math.sqrt(fan_in)
        return spec.gain * (torch.rand(fan_out, generator=gen, dtype=torch.float64) * 2 - 1) * bound
    std = bias_std(spec.init, spec.gain, fan_in)
    return std * torch.randn(fan_out, generator=gen, dtype=torch.float64)


def build_net(spec: Spec, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> Net:
    """Draw the network on the CPU in float64 from ``spec.seed`` (the same numbers on any device
    and in either dtype), moving each layer to ``device`` and ``dtype`` as soon as it is drawn."""
    gen = torch.Generator(device="cpu").manual_seed(spec.seed)

    def place(t: Tensor) -> Tensor:
        return t.to(device=device, dtype=dtype, copy=True)  # never the scratch buffer itself

    n_in, n_out = spec.sizes[0], spec.sizes[-1]
    if spec.x is not None:
        x = torch.tensor(spec.x, dtype=torch.float64)
    else:
        x = torch.randn((spec.batch, n_in), generator=gen, dtype=torch.float64)
    weights: list[Tensor] = []
    biases: list[Tensor | None] = []
    buffers: dict[tuple[int, ...], Tensor] = {}
    for fan_in, fan_out in zip(spec.sizes[:-1], spec.sizes[1:]):
        weights.append(place(_weight(spec, fan_in, fan_out, gen, buffers)))
        b = _bias(spec, fan_in, fan_out, gen)
        biases.append(None if b is None else place(b))
    if spec.w is not None:
        weights[0] = place(torch.tensor([spec.w], dtype=torch.float64))
    target = torch.tensor(spec.target, dtype=torch.float64)
    t = target.expand(spec.batch, n_out).clone()
    return Net(weights, biases, place(x), place(t))
