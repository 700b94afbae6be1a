"""What ``phase`` sweeps, validated (no torch): the σ_w² × σ_b² grid, the chains' shape and
training; and the size limit of ``vanish --spectrum``'s Jacobian."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from percgrad import catalog
from percgrad.errors import PercgradError
from percgrad.spec.parse import is_number, parse_size, shown

MAX_POINTS = 4096
"""Grid points one sweep may have."""
MAX_DEPTH = 10_000
"""Layers of a phase sweep's chains (each grid point is a whole chain)."""
MAX_WIDTH = 8192
MIN_DEPTH = 4
"""The measured window leaves out the first and last layers, and needs two layers between."""
DEFAULT_SIGMA_W2 = "0.5:4:0.25"
DEFAULT_SIGMA_B2 = "0:0.3:0.05"
TRAIN_SIGMA_W2 = "0.5:4:0.5"
TRAIN_SIGMA_B2 = "0:0.3:0.1"
"""The smaller default grid of ``--train-steps`` (training every point is heavy)."""
DEPTH, TRAIN_DEPTH = 100, 20
"""Default depth of the sweep, and with ``--train-steps`` (a deep chain trains only within a
hair of the edge of chaos, and slowly)."""
LR_TIMES_DEPTH = 0.6
"""Default --lr is this over the depth (0.03 at depth 20): a step that suits the last layer is
about depth times too large for a chain near the edge, whose layers all learn."""
PAIR_CORRELATION = 0.5
"""Correlation of the two inputs whose correlation is followed through the chain."""
TRAINABLE_DEPTHS = 6.0
"""Schoenholz et al.: a chain trains when its depth is below about 6ξ."""
TRAINED_FRACTION = 0.5
"""A point trained when its held-out loss fell to at most this fraction of that of the best
constant output."""


@dataclass(frozen=True)
class PhaseSpec:
    """What ``percgrad phase`` sweeps: one activation over a σ_w² × σ_b² grid of chains."""

    activation: str
    sigma_w2: tuple[float, ...]
    sigma_b2: tuple[float, ...]
    depth: int = DEPTH
    width: int = 128
    batch: int = 8
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    train_steps: int = 0
    lr: float = LR_TIMES_DEPTH / DEPTH
    max_memory: int | None = None

    @property
    def points(self) -> int:
        """Networks in the stack."""
        return len(self.sigma_w2) * len(self.sigma_b2)

    @property
    def window(self) -> tuple[int, int]:
        """(a, b), 1-based: the measured factor is (‖δ_a‖²/‖δ_b‖²)^(1/(b−a)); the first
        ⌈L/4⌉ layers (q settling to q*) and the last ⌈L/10⌉ (the loss's pull) are left out."""
        first = math.ceil(self.depth / 4)
        last = math.ceil(self.depth / 10)
        return first + 1, self.depth - last


def parse_grid(text: str, option: str, minimum: float, strict: bool) -> tuple[float, ...]:
    """'start:stop:step' (stop included when the steps reach it) or '1,1.5,2' into sorted,
    distinct, finite values above ``minimum`` (or at least it, unless ``strict``)."""
    allowed = f"start:stop:step (e.g. {DEFAULT_SIGMA_W2}) or a list (e.g. 1,1.5,2)"
    body = text.strip()
    if not body:
        raise PercgradError(f"nothing given; expected {allowed}", option)
    if ":" in body:
        parts = body.split(":")
        if len(parts) != 3:
            raise PercgradError(f"{text!r} is not start:stop:step; expected {allowed}", option)
        start, stop, step = (_number(p, text, option) for p in parts)
        if step <= 0:
            raise PercgradError(f"{text!r}: the step must be positive; expected {allowed}", option)
        if stop < start:
            raise PercgradError(f"{text!r}: stop is below start; expected {allowed}", option)
        span = (stop - start) / step  # inf when the step is tiny (1e-320): never converted to int
        if not span < MAX_POINTS:
            raise PercgradError(f"{shown(text, 40)}: the step {step:g} is too small, it makes more "
                                f"than {MAX_POINTS:,} values; at most {MAX_POINTS:,}", option)
        count = math.floor(span + 1e-9) + 1
        if count > MAX_POINTS:
            raise PercgradError(f"{text!r} has {count:,} values; at most {MAX_POINTS:,}", option)
        values = [round(start + i * step, 12) for i in range(count)]
    else:
        parts = body.split(",")
        if len(parts) > MAX_POINTS:
            raise PercgradError(f"{len(parts):,} values; at most {MAX_POINTS:,}", option)
        values = [_number(p, text, option) for p in parts]
    low = [v for v in values if v < minimum or (strict and v == minimum)]
    if low:
        bound = f"> {minimum:g}" if strict else f"≥ {minimum:g}"
        where = f"got {low[0]:g}" if len(values) == 1 else f"{low[0]:g} in {text!r}"
        raise PercgradError(f"{where}; every value must be {bound}", option)
    return tuple(sorted(set(values)))


def _number(item: str, text: str, option: str) -> float:
    if not is_number(item):
        raise PercgradError(
            f"{shown(item.strip())} in {shown(text, 40)} is not a number; expected start:stop:step "
            f"(e.g. {DEFAULT_SIGMA_W2}) or a list (e.g. 1,1.5,2)", option)
    value = float(item.strip())
    if not math.isfinite(value):
        raise PercgradError(f"{shown(item.strip())} in {shown(text, 40)} is not a finite number",
                            option)
    return value


def _whole(value: Any, option: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PercgradError(f"got {value!r}; expected a whole number from {low:,} to {high:,}", option)
    return value


def phase_spec(*, activation: str = "tanh", sigma_w2: str | None = None, sigma_b2: str | None = None,
               depth: int | None = None, width: int = 128, batch: int = 8, seed: int = 0,
               device: str = "auto", dtype: str = "float32", train_steps: int = 0,
               lr: float | None = None, max_memory: int | str | None = None) -> PhaseSpec:
    """The validated request of ``percgrad phase`` (the CLI's options as keyword arguments).
    Without --sigma-w2/--sigma-b2/--depth the defaults, smaller with --train-steps; --lr
    defaults to 0.6/depth."""
    name = catalog.activation_name(activation)
    training = _whole(train_steps, "--train-steps", 0, 100_000)
    w_text = sigma_w2 if sigma_w2 is not None else (TRAIN_SIGMA_W2 if training else DEFAULT_SIGMA_W2)
    b_text = sigma_b2 if sigma_b2 is not None else (TRAIN_SIGMA_B2 if training else DEFAULT_SIGMA_B2)
    w_grid = parse_grid(w_text, "--sigma-w2", 0.0, strict=True)
    b_grid = parse_grid(b_text, "--sigma-b2", 0.0, strict=False)
    points = len(w_grid) * len(b_grid)
    if points > MAX_POINTS:
        raise PercgradError(f"{len(w_grid)} × {len(b_grid)} = {points:,} grid points; at most "
                            f"{MAX_POINTS:,} (use a coarser --sigma-w2 or --sigma-b2)", "--sigma-w2")
    d = _whole(depth if depth is not None else (TRAIN_DEPTH if training else DEPTH), "--depth",
               MIN_DEPTH, MAX_DEPTH)
    w = _whole(width, "--width", 2, MAX_WIDTH)
    b = _whole(batch, "--batch", 1, 65_536)
    s = _whole(seed, "--seed", 0, 2**63 - 2)
    dt = str(dtype).strip().lower()
    if dt not in ("float32", "float64"):
        raise PercgradError(f"{dtype!r} is not one of: float32, float64", "--dtype")
    dev = str(device).strip().lower()
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", dev):
        raise PercgradError(f"{device!r} is not one of: auto, cpu, cuda, cuda:N", "--device")
    rate = LR_TIMES_DEPTH / d if lr is None else lr
    if not (isinstance(rate, int | float) and not isinstance(rate, bool) and math.isfinite(rate)
            and rate > 0):
        raise PercgradError(f"got {lr!r}; expected a positive finite number", "--lr")
    memory = parse_size(max_memory) if isinstance(max_memory, str) else max_memory
    if memory is not None and memory <= 0:
        raise PercgradError(f"got {memory!r}; expected a positive size like 2G", "--max-memory")
    return PhaseSpec(name, w_grid, b_grid, d, w, b, s, dev, dt, training, float(rate), memory)


SPECTRUM_MAX_FLOPS = 2e11
"""``vanish --spectrum`` refuses Jacobians whose product (and jacrev check) needs more flops."""


def spectrum_flops(depth: int, width: int, inputs: int) -> float:
    """Flops of J = J_L ⋯ J_1 and of its jacrev check: 2 × L products of N×N by N×n."""
    return 2.0 * 2.0 * depth * width * width * max(width, inputs)


def check_spectrum_size(depth: int, width: int, inputs: int) -> None:
    """Refuse a Jacobian too big to multiply out in reasonable time (before anything runs)."""
    flops = spectrum_flops(depth, width, inputs)
    if flops > SPECTRUM_MAX_FLOPS:
        raise PercgradError(
            f"the Jacobian of {depth:,} layers of width {width:,} needs about {flops / 1e9:,.0f} "
            f"GFLOP; at most {SPECTRUM_MAX_FLOPS / 1e9:,.0f} (use a smaller --depth or --width)",
            "--spectrum")
