"""Estimating the bytes a run needs before anything is allocated (plain arithmetic, no torch).

Built-in runs (single, multi, vanish) are estimated from their spec, phase by phase: the passes'
tensors stay alive throughout; the numeric check's float64 copy of the network and its gradients
exist only while it runs; the report's copies and per-layer temporaries come after it (with what
the check leaves behind), and so does training. The figures were calibrated against the peak RSS
of ``percgrad vanish`` in subprocesses (widths 1024–2048, float32 and float64, check off and
fast, training, a batch of 1024): within 5 % of the measured peak, BASELINE included.

A user's model or function (inspect, check) is estimated from what is known before its inputs
exist: the sizes of its inputs and parameters. What its own forward pass allocates is unknown,
so that estimate is a floor: it refuses what cannot fit, not what might not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from percgrad.errors import PercgradError

if TYPE_CHECKING:
    from percgrad.spec.run import Spec

MIB = 2**20
CHECK_CHUNK = 48 * MIB
"""The finite-difference check's batched pass (gradcheck.steps.CHUNK_BYTES)."""
PER_LAYER = 16 * 2**10
"""Bytes each layer costs beyond its numbers: tensor objects, the report's rows (measured:
about 14 kB a layer on a chain of width 1)."""
HEADROOM = 0.9
"""Use at most this fraction of the memory available."""
BASELINE = 264 * MIB
"""What the process holds besides a run's own tensors: the interpreter, torch, NumPy, Rich and
percgrad (``percgrad vanish --depth 1 --width 1`` peaks at 248 MiB), and about 16 MiB a run adds
whatever its size (lazily imported modules, the allocator's own). Already resident when the free
memory is read, so it is never compared with it (nor with --max-memory); ``Estimate.peak``
adds it, to compare with a measured peak RSS."""
ACTIVATION_COPIES = 5.5
"""Copies of the activations (batch × units) the passes keep: the forward's pre-activations and
outputs, two sets of δ, and autograd's saved tensors (measured: 5.5)."""
CHECK_ACTIVATIONS = 4
"""Float64 activations the check keeps: its forward's traces, the float64 analytic pass's δ."""
FAST_ROWS = 2 * 3 * 4
"""Networks stacked in the fast check's one pass: ± × 3 directions × 4 steps."""
FAST_ROW_TENSORS = 6.5
"""Live tensors of a stacked layer in that pass (a, φ(a), the step, kink flags …; measured)."""
FAST_SLACK = (0.5, 1.5)
"""Allocator slack while a float32 run's fast check converts gradients to float64: about 0.5 ×
the float32 weights plus 1.5 float64 copies of the largest layer (measured; none in float64)."""
FULL_ROW_TENSORS = 4
"""Chunks of stacked rows alive at once in the full check (measured)."""
FULL_LADDER = 5 * 9 + 17
"""Bytes per parameter of the full check's ladder: 5 steps × (a float64 and a flag), then the
plateau's value, spread and kink flag."""
LAYER_TEMPORARIES = 2
"""Float64 copies of the largest layer (its pieces, at most gradcheck.compare.CHUNK_ENTRIES
entries) alive while the report compares and measures each layer (measured, allocator included)."""
LAYER_CHUNK = 2**20
"""gradcheck.compare.CHUNK_ENTRIES: the report's float64 temporaries are at most this long."""
TRAINING_COPIES = 4
"""Float32-sized copies of the parameters that --steps adds: the trained copy of the network,
two sets of analytic gradients (the step's and the last) and autograd's at recorded steps."""
REPORT_COPIES = 3
"""Float64 NumPy copies a report keeps of a layer's parameters (weights, the analytic and the
autograd gradient; the numeric one too after a full check) and 4 of its activations."""


@dataclass(frozen=True)
class Estimate:
    """Bytes by purpose; ``total``, their sum, is what the size guard compares: the peak of the
    run's own memory. The check's float64 copies are freed before the report is built, so
    ``report`` and ``training`` count only what they add beyond the check's peak."""

    weights: int
    activations: int
    gradients: int
    check: int
    report: int
    overhead: int
    training: int = 0

    @property
    def total(self) -> int:
        """All of it: the run's own peak."""
        return (self.weights + self.activations + self.gradients + self.check + self.report
                + self.overhead + self.training)

    @property
    def peak(self) -> int:
        """The process's peak resident memory: ``total`` and BASELINE."""
        return self.total + BASELINE

    def parts(self) -> list[tuple[str, int]]:
        """(purpose, bytes) of the parts that are not zero, for the Error line."""
        named = (("weights", self.weights), ("activations", self.activations),
                 ("gradients", self.gradients), ("numeric check", self.check),
                 ("report", self.report), ("training", self.training),
                 ("per-layer overhead", self.overhead))
        return [(name, v) for name, v in named if v]


def _largest_layer(spec: Spec) -> int:
    """Parameters of the largest layer (its weights, plus a bias or a norm's own per unit)."""
    return max(i * o for i, o in zip(spec.sizes[:-1], spec.sizes[1:])) + \
        (spec.n_params - sum(i * o for i, o in zip(spec.sizes[:-1], spec.sizes[1:]))) // \
        max(1, spec.depth)


def estimate(spec: Spec, training: bool = False) -> Estimate:
    """The bytes of one run of ``spec``, by purpose (see the module's docstring)."""
    size = 8 if spec.dtype == "float64" else 4
    params = spec.n_params
    act = spec.batch * sum(spec.sizes)
    largest = _largest_layer(spec)
    weights = params * size
    activations = int(ACTIVATION_COPIES * act * size)
    gradients = 2 * params * size
    method = spec.resolved_check()
    check = kept = 0
    if method != "off":
        kept = params * 8 if size != 8 else 0
        check = params * 8 + kept + CHECK_ACTIVATIONS * act * 8
        if method == "full":
            row = spec.batch * max(spec.sizes) * 8 * 4  # one perturbed network's a, h and temporaries
            check += FULL_ROW_TENSORS * min(CHECK_CHUNK, 2 * params * row) + FULL_LADDER * params
        else:
            widest_out, widest_in = max(spec.sizes[1:]), max(spec.sizes[:-1])
            check += int(FAST_ROWS * 8 * (FAST_ROW_TENSORS * spec.batch * widest_out + widest_in))
            if size != 8:
                check += int(FAST_SLACK[0] * params * 4 + FAST_SLACK[1] * largest * 8)
    # the spectral bound's SVDs (a float64 copy and LAPACK's) come one layer at a time, as the
    # comparisons' temporaries do: the same two copies of a layer at most
    report = LAYER_TEMPORARIES * min(largest, LAYER_CHUNK) * 8
    if spec.keep_tensors:
        full = method == "full"
        report += (REPORT_COPIES + full) * params * 8 + 4 * act * 8
    trained = TRAINING_COPIES * params * size + int(ACTIVATION_COPIES * act * size) if training else 0
    # the report and training come after the check, with what it leaves (kept): they add only
    # what goes beyond the check's own peak
    beyond = max(0, kept + report + trained - check)
    training_part = min(trained, beyond)
    return Estimate(weights, activations, gradients, check, beyond - training_part,
                    PER_LAYER * spec.depth, training_part)


def human(n: float) -> str:
    """Bytes for people: 1.5 GB, 820 MB, 1,024 MB (three significant digits, never scientific
    notation: 1023.9 MB is "1,024 MB", 2000 TB "2,000 TB")."""
    for unit, scale in (("PB", 2**50), ("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= scale:
            v = n / scale
            return f"{v:,.0f} {unit}" if v >= 100 else f"{v:.3g} {unit}"
    return f"{int(n):,} B"


def budget(available: int | None, limit: int | None) -> int | None:
    """The bytes a run may use: the user's --max-memory, else HEADROOM of what is free (None
    when neither is known: nothing is refused)."""
    return limit if limit is not None else (None if available is None else int(available * HEADROOM))


def refuse(need: int, parts: list[tuple[str, int]], available: int | None, limit: int | None,
           where: str, smaller: str, option: str | None = None, floor: bool = False) -> None:
    """Raise the size guard's PercgradError when ``need`` bytes exceed the budget (with what
    would fit in it, when ``parts`` is a Floor that knows)."""
    allowed = budget(available, limit)
    if allowed is None or need <= allowed:
        return
    listed = ", ".join(f"{name} {human(v)}" for name, v in parts if v)
    source = (f"--max-memory is {human(limit)}" if limit is not None
              else f"{human(allowed)} is free on {where}")
    about = "at least about" if floor else "about"
    fits = parts.fits(allowed) if isinstance(parts, Floor) and parts.fits is not None else None
    within = f"; within {human(allowed)}: {fits}" if fits else ""
    raise PercgradError(
        f"this run needs {about} {human(need)} ({listed}) but {source}; use a smaller "
        f"{smaller}, or set --max-memory{within}", option)


def guard(spec: Spec, available: int | None, limit: int | None, where: str,
          training: bool = False) -> None:
    """Refuse a run whose estimate exceeds ``limit`` (the user's) or the memory ``available``."""
    est = estimate(spec, training)
    sizes = "--depth, --width" if spec.command == "vanish" else "--inputs, --outputs, --hidden"
    refuse(est.total, est.parts(), available, limit, where, f"{sizes} or --batch, --check off")


# ---------------------------------------------------------------- a user's model or function

class Floor(list[tuple[str, int]]):
    """A user's run's floor, (purpose, bytes) by purpose, with ``fits``: what would fit in a
    budget of so many bytes, in words (None where nothing smaller would)."""

    def __init__(self, parts: list[tuple[str, int]],
                 fits: Callable[[int], str | None] | None = None) -> None:
        super().__init__(parts)
        self.fits = fits


def model_floor(input_entries: int, params: int, size: int, method: str) -> Floor:
    """The bytes ``inspect`` needs at least, by purpose, for a model of ``params`` parameters of
    ``size`` bytes each on inputs of ``input_entries`` entries: the inputs and the first
    module's output with their gradients, the working copy of the model with its gradients,
    and the check's float64 copy of both, its gradient, its flat parameter vector, the fast
    check's random directions (one per tensor: as many numbers as parameters) and a chunk of
    stacked rows (a row evaluated alone holds only the tensor it perturbs: no further copy).
    Measured against it (ResNet-18 and ViT-like models in benchmarks/inspect.py): the peak
    above the memory in use before the run is 1.05 to 1.15 × this floor with the fast check."""
    parts = _model_parts(input_entries, params, size, method)
    return Floor(parts, lambda allowed: _model_fits(input_entries, params, size, method, allowed))


def _model_parts(input_entries: int, params: int, size: int, method: str) -> list[tuple[str, int]]:
    inputs = input_entries * size * 4  # the batch, the first output (at least as large), ∂E/∂ each
    model = params * size * 3  # the working copy, its gradients, the gradients kept
    check = 0
    if method != "off":
        check = input_entries * 8 * 2 + params * 8 * 3  # float64 inputs; copy, ∂, θ
        check += FULL_LADDER * params if method == "full" else params * 8  # or the directions
        check += min(CHECK_CHUNK, 2 * 8 * (params + input_entries))
    return [("inputs and activations", inputs), ("model and gradients", model),
            ("numeric check", check)]


def _model_fits(entries: int, params: int, size: int, method: str, allowed: int) -> str | None:
    """What of an inspect run would fit in ``allowed`` bytes: the largest inputs with this
    check, a lighter check with these inputs, else both."""
    def need(e: int, m: str) -> int:
        return sum(v for _, v in _model_parts(e, params, size, m))

    def most(m: str) -> int:
        """The most input entries that fit with check ``m`` (0: none)."""
        low, high = 0, entries + 1  # need(high) does not fit; need(low) fits but for low = 0
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if need(mid, m) <= allowed else (low, mid)
        return low

    def smaller(n: int) -> str:
        return (f"inputs of at most {n:,} entries in all ({entries / n:.3g} × fewer than the "
                f"{entries:,} given: a smaller batch)")

    lighter = [m for m in ("fast", "off") if m != method and not (method == "fast" and m == "full")]
    ways = [smaller(most(method))] if 0 < most(method) < entries else []
    light = next((m for m in lighter if need(entries, m) <= allowed), None)
    if light is not None:
        ways.append(f"--check {light} (at least about {human(need(entries, light))})")
    elif not ways and method != "off" and 0 < most("off") < entries:
        ways.append(f"--check off and {smaller(most('off'))}")
    if not ways:
        return ("nothing would: the parameters alone need at least about "
                f"{human(need(0, 'off'))}, even with --check off")
    return ", or ".join(ways)


def function_floor(input_entries: int, groups: int, size: int, method: str) -> list[tuple[str, int]]:
    """The bytes ``check`` needs at least, by purpose, for inputs of ``input_entries`` entries
    in all (``groups`` tensors) of ``size`` bytes: the inputs, an output as large and both
    gradients; then float64 copies, θ, the directions (one row of θ's length per tensor) and
    two perturbed rows at a time."""
    autograd = input_entries * size * 4
    check = 0
    if method != "off":
        rows = 2 + (groups if method == "fast" else 0)
        check = input_entries * 8 * (4 + rows)
        if method == "full":
            check += FULL_LADDER * input_entries
    return [("inputs, outputs and gradients", autograd), ("numeric check", check)]


def guard_floor(parts: list[tuple[str, int]], available: int | None, limit: int | None,
                where: str, smaller: str, option: str) -> None:
    """Refuse a user's run whose floor exceeds ``limit`` or the memory ``available``."""
    refuse(sum(v for _, v in parts), parts, available, limit, where, smaller, option, floor=True)


def entries(shape: tuple[int, ...]) -> int:
    """Entries of a tensor of ``shape`` (1 for a scalar)."""
    return math.prod(shape)
