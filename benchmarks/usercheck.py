"""User check: ``percgrad check`` (the black-box gradient check of a user's function) against
torch.autograd.gradcheck on the same functions: full vs ``fast_mode=False``, fast vs
``fast_mode=True``, on a plain torch function (evaluated through torch.func.vmap) and on a custom
autograd.Function (which vmap cannot batch: one call per row), both verdicts recorded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from rich.table import Table
from torch import Tensor

from benchmarks.common import Bench, Config, Log, Stats, fmt_s, mark, time_interleaved
from percgrad.engines.check import check_function

SIZES = ((3, 4, 5), (16, 32, 32))
"""x: a×b and w: b×c; 32 and 1,536 input entries."""
QUICK_SIZES = ((3, 4, 5),)
RATIO_LIMIT = 1.0
"""percgrad / gradcheck."""
MAX_REPEATS = 50


class LinearTanh(torch.autograd.Function):
    """tanh(x @ w) with a hand-written backward (no setup_context: vmap cannot batch it)."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor) -> Tensor:  # type: ignore[override]
        y = torch.tanh(x @ w)
        ctx.save_for_backward(x, w, y)
        return y

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        x, w, y = ctx.saved_tensors
        d = g * (1 - y * y)
        return d @ w.t(), x.t() @ d


def plain(x: Tensor, w: Tensor) -> Tensor:
    """tanh(x @ w) in plain torch."""
    return torch.tanh(x @ w)


FUNCTIONS: dict[str, Callable[..., Tensor]] = {"torch (vmap)": plain,
                                                "autograd.Function (loop)": LinearTanh.apply}


@dataclass
class UserCheckRow:
    """One function, size and mode: both checks timed, both verdicts."""

    function: str
    entries: int
    shapes: str
    percgrad_method: str
    gradcheck_fast_mode: bool
    percgrad: Stats
    gradcheck: Stats
    ratio: float
    ok: bool
    percgrad_passed: bool | None
    gradcheck_passed: bool
    evaluations: int
    evaluation: str


@dataclass
class UserCheckResult:
    """The section: one row per function, size and mode."""

    rows: list[UserCheckRow]


def _inputs(a: int, b: int, c: int) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(a, b, generator=gen, dtype=torch.float64)
    w = torch.randn(b, c, generator=gen, dtype=torch.float64) / b**0.5
    return x, w


def measure_row(name: str, size: tuple[int, int, int], fast: bool, cfg: Config) -> UserCheckRow:
    """percgrad's check and gradcheck of one function, sampled in turn."""
    fn = FUNCTIONS[name]
    x, w = _inputs(*size)
    method = "fast" if fast else "full"
    verdicts: list[bool | None] = []
    theirs: list[bool] = []
    info: dict[str, object] = {}

    def ours(_: object) -> None:
        report = check_function(fn, [x, w], ["x", "w"], method=method)
        verdicts.append(report.check.passed)
        info.update(evaluations=report.check.evaluations, evaluation=report.check.evaluation)

    def gradcheck(_: object) -> None:
        leaves = (x.clone().requires_grad_(True), w.clone().requires_grad_(True))
        theirs.append(bool(torch.autograd.gradcheck(fn, leaves, fast_mode=fast,
                                                    raise_exception=False)))

    stats = time_interleaved({"percgrad": Bench(ours), "gradcheck": Bench(gradcheck)}, cfg,
                             max_repeats=MAX_REPEATS)
    ratio = stats["percgrad"].median_s / stats["gradcheck"].median_s
    return UserCheckRow(
        name, x.numel() + w.numel(), f"{size[0]}×{size[1]}, {size[1]}×{size[2]}", method, fast,
        stats["percgrad"], stats["gradcheck"], ratio, ratio <= RATIO_LIMIT,
        verdicts[-1], all(theirs), int(info.get("evaluations", 0)),  # type: ignore[call-overload]
        str(info.get("evaluation", "")),
    )


def warm_up() -> None:
    """Pay one-time costs (gradcheck's first call takes about a second) untimed."""
    x, w = _inputs(2, 2, 2)
    for fn in FUNCTIONS.values():
        for fast in (False, True):
            check_function(fn, [x, w], ["x", "w"], method="fast" if fast else "full")
            torch.autograd.gradcheck(fn, (x.clone().requires_grad_(True),
                                          w.clone().requires_grad_(True)), fast_mode=fast)


def measure(cfg: Config, log: Log) -> UserCheckResult:
    """Every function, size and mode, with one torch thread (small tensors: threads only wait)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        warm_up()
        rows = []
        for size in QUICK_SIZES if cfg.quick else SIZES:
            for name in FUNCTIONS:
                for fast in (False, True):
                    log(f"check {name} {size} {'fast' if fast else 'full'}")
                    rows.append(measure_row(name, size, fast, cfg))
    finally:
        torch.set_num_threads(threads)
    return UserCheckResult(rows)


def render(result: UserCheckResult) -> list[object]:
    """One table: a row per function, size and mode."""
    table = Table(
        title="percgrad check vs torch.autograd.gradcheck (tanh(x @ w), float64, 1 thread)",
        caption="percgrad = check_function (autograd, then float64 central differences of v·f at "
        "as few steps as needed, compared entry by entry or along one random Gaussian direction per "
        "input); "
        "gradcheck with default tolerances. Medians of interleaved runs.",
    )
    for col in ("function", "entries", "percgrad", "gradcheck", "runs", f"ratio ≤ {RATIO_LIMIT}",
                "met", "evaluations", "percgrad passed", "gradcheck passed"):
        table.add_column(col, justify="left" if col in ("function", "percgrad", "gradcheck")
                         else "right")
    for r in result.rows:
        table.add_row(
            r.function, f"{r.entries:,}", f"{r.percgrad_method}: {fmt_s(r.percgrad.median_s)}",
            f"fast_mode={r.gradcheck_fast_mode}: {fmt_s(r.gradcheck.median_s)}",
            f"{r.percgrad.n}", f"{r.ratio:.3f}", mark(r.ok), f"{r.evaluations:,} ({r.evaluation})",
            "yes" if r.percgrad_passed else "no", "yes" if r.gradcheck_passed else "no",
        )
    return [table]
