"""Building the network: weights by init scheme from a seeded CPU generator, then moved."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from percgrad.catalog import ACTIVATIONS
from percgrad.network.functions import Loss, activation, loss
from percgrad.network.layers import Layer, Residual, kind
from percgrad.runtime.progress import Progress, ticker
from percgrad.spec.run import Spec


@dataclass
class Net:
    """A network: its layers from the input side, its loss, its input and its target."""

    layers: list[Layer]
    x: Tensor
    """Inputs, shape (batch, inputs)."""
    t: Tensor
    """Targets, shape (batch, outputs)."""
    loss: Loss

    @property
    def depth(self) -> int:
        """Number of layers."""
        return len(self.layers)

    @property
    def weights(self) -> list[Tensor]:
        """W_k of every layer."""
        return [layer.weight for layer in self.layers]

    @property
    def biases(self) -> list[Tensor | None]:
        """b_k of every layer (None where a layer has none)."""
        return [layer.bias for layer in self.layers]

    def parameters(self) -> list[Tensor]:
        """Every parameter tensor, layer by layer, in each layer's order (W, b, …)."""
        return [p for layer in self.layers for p in layer.params]

    def to(self, device: torch.device | str, dtype: torch.dtype) -> Net:
        """A copy on ``device`` in ``dtype`` (values copied, never shared)."""

        def move(t: Tensor) -> Tensor:
            return t.detach().to(device=device, dtype=dtype, copy=True)

        layers = [layer.with_params([move(p) for p in layer.params]) for layer in self.layers]
        return Net(layers, move(self.x), move(self.t), self.loss)


def weight_std(init: str, gain: float, activation: str, fan_in: int, fan_out: int,
               sigma_w2: float = 1.0) -> float:
    """Standard deviation of a weight under ``init`` (for ``orthogonal``, that of a random entry)."""
    if init == "meanfield":
        return gain * math.sqrt(sigma_w2 / fan_in)
    if init == "normal":
        return gain
    if init == "pytorch":
        return gain / math.sqrt(3.0 * fan_in)  # U(−1/√fan_in, 1/√fan_in)
    if init == "xavier":
        return gain * math.sqrt(2.0 / (fan_in + fan_out))
    if init == "kaiming":
        return gain * ACTIVATIONS[activation].kaiming_gain / math.sqrt(fan_in)
    if init == "orthogonal":
        return gain / math.sqrt(max(fan_in, fan_out))
    raise ValueError(init)


def bias_std(init: str, gain: float, fan_in: int, sigma_b2: float = 0.0) -> float:
    """Standard deviation of a bias under ``init``: N(0, gain²) for normal, nn.Linear's for
    pytorch, √σ_b² for meanfield, zero otherwise (the usual choice with xavier, kaiming and
    orthogonal)."""
    if init == "meanfield":
        return math.sqrt(sigma_b2)
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
    std = weight_std(spec.init, spec.gain, spec.activation, fan_in, fan_out, spec.sigma_w2)
    return torch.randn(shape, generator=gen, dtype=torch.float64, out=buf).mul_(std)


def _bias(spec: Spec, fan_in: int, fan_out: int, gen: torch.Generator) -> Tensor | None:
    if not spec.bias:
        return None
    if spec.init == "pytorch":
        bound = 1.0 / math.sqrt(fan_in)
        return spec.gain * (torch.rand(fan_out, generator=gen, dtype=torch.float64) * 2 - 1) * bound
    std = bias_std(spec.init, spec.gain, fan_in, spec.sigma_b2)
    return std * torch.randn(fan_out, generator=gen, dtype=torch.float64)


def build_net(spec: Spec, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64,
              progress: Progress | None = None) -> Net:
    """Draw the network on the CPU in float64 from ``spec.seed`` (the same numbers on any device
    and in either dtype), moving each layer to ``device`` and ``dtype`` as soon as it is drawn;
    ``progress``: (layers drawn, depth)."""
    tick = ticker(progress, len(spec.sizes) - 1)
    gen = torch.Generator(device="cpu").manual_seed(spec.seed)

    def place(t: Tensor) -> Tensor:
        return t.to(device=device, dtype=dtype, copy=True)  # never the scratch buffer itself

    n_in, n_out = spec.sizes[0], spec.sizes[-1]
    if spec.x is not None:
        x = torch.tensor(spec.x, dtype=torch.float64)
    else:
        x = torch.randn((spec.batch, n_in), generator=gen, dtype=torch.float64)
    act = activation(spec.activation)
    layers: list[Layer] = []
    buffers: dict[tuple[int, ...], Tensor] = {}
    for k, (fan_in, fan_out) in enumerate(zip(spec.sizes[:-1], spec.sizes[1:])):
        w = place(_weight(spec, fan_in, fan_out, gen, buffers))
        if k == 0 and spec.w is not None:
            w = place(torch.tensor([spec.w], dtype=torch.float64))
        b = _bias(spec, fan_in, fan_out, gen)
        if k == 0 and spec.b is not None:
            b = torch.tensor(spec.b, dtype=torch.float64)
        layer = kind(spec.norm).create(act, w, None if b is None else place(b))
        layers.append(Residual(layer) if spec.residual_at(k) else layer)
        if tick is not None:
            tick(k + 1)
    target = torch.tensor(spec.target, dtype=torch.float64)
    t = target.expand(spec.batch, n_out).clone()
    return Net(layers, place(x), place(t), loss(spec.loss))
