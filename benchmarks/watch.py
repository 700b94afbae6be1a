"""Watch: the cost of ``percgrad watch`` on a training loop. An MLP and a small CNN built from
torch.nn, trained with SGD on a fixed batch: steps per second without a recorder, and with one
recording every step and every 10th (the NaN check runs at every step in both)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from rich.table import Table
from torch import nn

from benchmarks.common import Bench, Config, Log, Stats, mark, time_interleaved

EVERY_1_LIMIT, EVERY_10_LIMIT = 1.10, 1.02
"""Time per step with watch over time per step without, at --every 1 and --every 10."""
STEPS = 50
"""Optimizer steps per timed sample (each sample starts from the same weights)."""
QUICK_STEPS = 5


@dataclass
class WatchRow:
    """One model: seconds per step plain and watched, and the ratios."""

    model: str
    params: int
    batch: str
    plain_s: Stats
    every1_s: Stats
    every10_s: Stats
    ratio1: float
    ratio10: float
    ok1: bool
    ok10: bool


@dataclass
class WatchResult:
    """Every model's row."""

    steps: int
    rows: list[WatchRow]


def _mlp() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    return model, torch.randn(128, 256), torch.randint(0, 10, (128,))


def _cnn() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    return model, torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))


def _loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int,
          every: int | None) -> None:
    import percgrad

    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    recorder = percgrad.watch(model, every=every) if every is not None else None
    try:
        for _ in range(steps):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        if recorder is not None:
            recorder.close()


def measure(cfg: Config, log: Log) -> WatchResult:
    """Each model trained STEPS steps plain, watched every step, watched every 10th, in turn."""
    steps = QUICK_STEPS if cfg.quick else STEPS
    rows = []
    for name, make in (("MLP 256→512→512→512→10", _mlp), ("CNN 3 conv + BN, 32×32", _cnn)):
        model, x, y = make()
        state = {k: v.clone() for k, v in model.state_dict().items()}

        def bench(every: int | None, model: nn.Module = model, x: torch.Tensor = x,
                  y: torch.Tensor = y, state: dict[str, torch.Tensor] = state) -> Bench:
            def setup() -> None:
                model.load_state_dict(state)

            return Bench(lambda _: _loop(model, x, y, steps, every), setup)

        log(f"watch: {name}, {steps} steps each: plain, every 1, every 10")
        stats = time_interleaved({"plain": bench(None), "every1": bench(1), "every10": bench(10)},
                                 cfg)
        per = {k: Stats.of([s / steps for s in v.samples_s]) for k, v in stats.items()}
        r1 = per["every1"].median_s / per["plain"].median_s
        r10 = per["every10"].median_s / per["plain"].median_s
        rows.append(WatchRow(name, sum(p.numel() for p in model.parameters()),
                             "×".join(map(str, x.shape)), per["plain"], per["every1"],
                             per["every10"], r1, r10, r1 <= EVERY_1_LIMIT,
                             r10 <= EVERY_10_LIMIT))
    return WatchResult(steps, rows)


def render(result: WatchResult) -> list[object]:
    """One table: ms per step plain and watched, the ratios against their targets."""
    table = Table(title=f"Watch: a training loop's time per step ({result.steps} SGD steps per "
                        "sample), plain and under percgrad.watch")
    for col in ("model", "params", "batch", "plain", "every 1", "ratio", "met", "every 10",
                "ratio", "met"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in result.rows:
        table.add_row(r.model, f"{r.params:,}", r.batch, f"{r.plain_s.median_s * 1e3:.2f} ms",
                      f"{r.every1_s.median_s * 1e3:.2f} ms", f"{r.ratio1:.3f}", mark(r.ok1),
                      f"{r.every10_s.median_s * 1e3:.2f} ms", f"{r.ratio10:.3f}", mark(r.ok10))
    table.caption = (f"targets: every 1 ≤ {EVERY_1_LIMIT:g}× plain, every 10 ≤ {EVERY_10_LIMIT:g}× "
                     "plain (median of interleaved samples)")
    return [table]
