"""What to build: a frozen, validated description of one run (no torch, no Typer, no Rich)."""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import dataclass

from percgrad.catalog import (
    ACTIVATION_NAMES,
    ACTIVATIONS,
    INIT_NAMES,
    LOSS_NAMES,
    LOSSES,
    MISTAKES,
    NORMS,
    arch_of,
)
from percgrad.errors import PercgradError
from percgrad.spec import check as judge

__all__ = ["ACTIVATION_NAMES", "INIT_NAMES", "LOSS_NAMES", "Chain", "Spec"]

CHECK_NAMES = ("auto", "full", "fast", "off")
DTYPE_NAMES = ("float32", "float64")
COMMANDS = ("single", "multi", "vanish")

MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Chain:
    """``vanish``'s own settings: the chain's shape, training, and what the JSON keeps."""

    depth: int
    width: int
    steps: int = 0
    lr: float = 0.1
    tensors: bool = False


@dataclass(frozen=True)
class Spec:
    """Everything one run needs, already checked: sizes, functions, init, device and check."""

    command: str
    sizes: tuple[int, ...]
    """Layer widths from the input side: (inputs, hidden..., outputs)."""
    activation: str = "sigmoid"
    loss: str = "mse"
    init: str = "normal"
    gain: float = 1.0
    bias: bool = False
    batch: int = 1
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    check: str = "auto"
    tolerance: float | None = None
    x: tuple[tuple[float, ...], ...] | None = None
    """Input rows given by hand, shape (batch, inputs); None draws x ~ N(0, 1)."""
    w: tuple[float, ...] | None = None
    """The single neuron's weights given by hand; None draws them by ``init``."""
    target: tuple[float, ...] = (1.0,)
    """One value for every output, or one per output."""
    bound: bool | None = None
    """Compute the spectral bound of every layer; None: when its SVDs are cheap."""
    max_memory: int | None = None
    """Bytes a run may use (``--max-memory``); None: what the device has free."""
    keep_tensors: bool = True
    """Copy every weight and gradient matrix into the report."""
    sigma_w2: float = 1.0
    """``meanfield`` init: W ~ N(0, σ_w²/fan_in)."""
    sigma_b2: float = 0.0
    """``meanfield`` init: b ~ N(0, σ_b²)."""
    residual: bool = False
    """A skip connection h_k = h_k−1 + φ(a_k) on every layer whose input and output widths match."""
    norm: str = "none"
    """``layer``: layer norm of every pre-activation before φ."""
    chain: Chain | None = None
    """``vanish``'s settings (None for single and multi)."""
    mistake: str | None = None
    """A classic mistake planted in the hand-derived pass (catalog.MISTAKES)."""
    b: tuple[float, ...] | None = None
    """The single neuron's bias given by hand (implies ``bias``)."""

    def __post_init__(self) -> None:
        _choice(self.command, COMMANDS, "command")
        _choice(self.activation, ACTIVATION_NAMES, "--activation")
        _choice(self.loss, LOSS_NAMES, "--loss")
        _choice(self.init, INIT_NAMES, "--init")
        _choice(self.check, CHECK_NAMES, "--check")
        _choice(self.dtype, DTYPE_NAMES, "--dtype")
        _choice(self.norm, tuple(NORMS), "--norm")
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise PercgradError(f"layer sizes must be positive, got {list(self.sizes)}", "--inputs")
        _positive(self.gain, "--gain")
        _positive(self.sigma_w2, "--sigma-w2")
        if not (math.isfinite(self.sigma_b2) and self.sigma_b2 >= 0):
            raise PercgradError(f"must be a finite number ≥ 0, got {self.sigma_b2!r}", "--sigma-b2")
        if self.init != "meanfield" and (self.sigma_w2 != 1.0 or self.sigma_b2 != 0.0):
            given = "--sigma-w2" if self.sigma_w2 != 1.0 else "--sigma-b2"  # the one given
            raise PercgradError(f"goes with --init meanfield, not {self.init}", given)
        if self.sigma_b2 > 0 and not self.bias:
            raise PercgradError("σ_b² > 0 needs biases (--bias)", "--sigma-b2")
        if self.tolerance is not None:
            _positive(self.tolerance, "--tolerance")
        if self.batch < 1:
            raise PercgradError(f"must be at least 1, got {self.batch}", "--batch")
        if not 0 <= self.seed <= MAX_SEED:
            raise PercgradError(f"must be between 0 and 2**63−1, got {self.seed}", "--seed")
        if LOSSES[self.loss].needs_unit_interval:
            if not ACTIVATIONS[self.activation].unit_interval:
                raise PercgradError(
                    f"{self.loss} needs outputs in (0, 1), which only sigmoid gives; "
                    f"--activation is {self.activation!r} (use --activation sigmoid or --loss mse)",
                    "--loss",
                )
            if self.residual and self.sizes[-2] == self.sizes[-1]:
                raise PercgradError(
                    f"{self.loss} needs outputs in (0, 1), but a residual output h + σ(a) can "
                    "leave it (use --loss mse, or drop --residual)", "--loss",
                )
            bad = [t for t in self.target if not 0.0 <= t <= 1.0]
            if bad:
                raise PercgradError(f"bce needs targets in [0, 1], got {bad[0]!r}", "--target")
        n_in, n_out = self.sizes[0], self.sizes[-1]
        if len(self.target) not in (1, n_out):
            raise PercgradError(
                f"give one value or {n_out} (one per output), got {len(self.target)}", "--target"
            )
        if self.x is not None:
            if len(self.x) != self.batch:
                raise PercgradError(
                    f"{len(self.x)} row(s) given but --batch is {self.batch}", "--x"
                )
            for row in self.x:
                if len(row) != n_in:
                    raise PercgradError(
                        f"each row needs {n_in} value(s) (one per input), got {len(row)}", "--x"
                    )
        kind = NORMS[self.norm]
        if min(self.sizes[1:]) < kind.min_width:
            raise PercgradError(kind.width_reason.format(width=min(self.sizes[1:])), "--norm")
        if self.mistake is not None:
            self._check_mistake()
        if self.b is not None and (len(self.b) != n_out or not self.bias):
            raise PercgradError(f"needs {n_out} value(s) (one per output) and a bias, got "
                                f"{len(self.b)}", "--b")
        if self.w is not None and len(self.w) != n_in:
            raise PercgradError(f"needs {n_in} value(s) (one per input), got {len(self.w)}", "--w")

    def _check_mistake(self) -> None:
        """A planted mistake must be one that this network can show."""
        info = MISTAKES.get(self.mistake or "")
        if info is None:
            raise PercgradError(f"{self.mistake!r} is not one of: {', '.join(MISTAKES)}", "--mistake")
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        if info.needs == "mse" and self.loss != "mse":
            raise PercgradError(f"{info.name} is a mistake in the MSE derivative; --loss is "
                                f"{self.loss!r} (use --loss mse)", "--mistake")
        if info.needs == "mean" and not LOSSES[self.loss].mean:
            raise PercgradError(f"{info.name} forgets the 1/n of a mean, but --loss {self.loss} "
                                "is a sum (use --loss mse)", "--mistake")
        if info.needs == "square" and not any(i == o for i, o in pairs[1:]):
            raise PercgradError(f"{info.name} needs a layer above the first whose weight matrix is "
                                "square (Wᵀ must fit where W goes), e.g. multi --inputs 4 --hidden "
                                "4,4 --outputs 4, or vanish --width 4", "--mistake")
        if info.needs == "two-layers" and not any(self.sizes[k] == self.sizes[k + 1]
                                                 for k in range(1, len(self.sizes) - 1)):
            raise PercgradError(f"{info.name} needs two stacked layers of the same width (δ_k "
                                "must fit where δ_k−1 goes), e.g. multi --hidden 4 --outputs 4, "
                                "or vanish --width 4", "--mistake")
        if info.name == "forget-dphi" and self.activation == "identity":
            raise PercgradError("forget-dphi changes nothing with --activation identity (φ′ = 1); "
                                "pick another activation", "--mistake")

    @property
    def arch(self) -> str:
        """plain, residual, layernorm, residual-layernorm … (catalog.archs())."""
        return arch_of(self.norm, self.residual)

    def residual_at(self, k: int) -> bool:
        """True when layer k (from 0) has a skip connection: residual, same width in and out."""
        return self.residual and self.sizes[k] == self.sizes[k + 1]

    @property
    def depth(self) -> int:
        """Number of weight layers."""
        return len(self.sizes) - 1

    @functools.cached_property
    def n_params(self) -> int:
        """Number of trainable numbers: weights, and biases (and a norm's own, e.g. γ, β) when on."""
        per_unit = (1 if self.bias else 0) + len(NORMS[self.norm].params)
        # map(operator.mul) runs in C: a chain of 10 million layers is counted in a moment
        return sum(map(operator.mul, self.sizes[:-1], self.sizes[1:])) + per_unit * sum(self.sizes[1:])

    def resolved_check(self) -> str:
        """``auto`` made concrete: full up to a few thousand parameters, fast beyond."""
        return judge.method(self.check, self.n_params)

    def resolved_tolerance(self) -> float:
        """The pass/fail tolerance on relative error: the user's, or the dtype's default."""
        return judge.tolerance(self.dtype, self.tolerance)


def _choice(value: str, allowed: tuple[str, ...], option: str) -> None:
    if value not in allowed:
        raise PercgradError(f"{value!r} is not one of: {', '.join(allowed)}", option)


def _positive(value: float, option: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise PercgradError(f"must be a positive finite number, got {value!r}", option)
