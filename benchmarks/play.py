"""Play: how fast ``percgrad play`` answers a key. The app runs headless (Textual's pilot, 80×24)
in this process, torch already imported; ``r`` (new weights, the same shape) is pressed again
and again, each time after the screen has settled, and the app stamps the time from the key to
its new bars on the screen (after Textual's refresh), and to the whole verdict (vanish's trial
runs and check included). Also: from the app's start to its first bars."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import torch
from rich.table import Table

from benchmarks.common import Config, Log, Stats, fmt_s, mark

BARS_LIMIT_S = 0.150
"""A key's new bars on the screen, for depth ≤ 50 and width ≤ 256 on a CPU (issue 19)."""
START_LIMIT_S = 2.0
"""From the app's start to its first bars, torch imported."""
SHAPES = ((20, 1), (50, 64), (50, 256))
QUICK_SHAPES = ((5, 1), (10, 16))
PRESSES, QUICK_PRESSES = 9, 2
SIZE = (80, 24)


@dataclass
class PlayRow:
    """One shape: key → bars and key → verdict over the presses, the start to first bars."""

    depth: int
    width: int
    presses: int
    bars: Stats
    verdict: Stats
    start_s: float
    ok: bool
    start_ok: bool


@dataclass
class PlayResult:
    """Every shape's row."""

    rows: list[PlayRow]
    torch_threads: int


async def _settle(pilot: Any, timeout_s: float = 120.0) -> None:
    app = pilot.app
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        await pilot.pause(0.01)
        if not app.busy and all(w.is_finished for w in app.workers):
            await pilot.pause()
            return
    raise TimeoutError("play did not settle")


async def _presses(depth: int, width: int, presses: int) -> tuple[list[float], list[float]]:
    """(key → bars, key → verdict) of each press, the first entry from the app's start."""
    from percgrad.play.app import PlayApp
    from percgrad.play.state import Settings

    app = PlayApp(Settings(depth=depth, width=width, activation="tanh", init="xavier"))
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        for _ in range(presses):
            await pilot.press("r")
            await _settle(pilot)
        await pilot.press("q")
    return app.latencies, app.verdict_latencies


def measure(cfg: Config, log: Log) -> PlayResult:
    """Each shape: the app started, then ``r`` pressed PRESSES times, each after settling."""
    presses = QUICK_PRESSES if cfg.quick else PRESSES
    rows = []
    for depth, width in QUICK_SHAPES if cfg.quick else SHAPES:
        log(f"play: depth {depth}, width {width}: {presses} presses of r")
        bars, verdicts = asyncio.run(_presses(depth, width, presses))
        bar_stats, verdict_stats = Stats.of(bars[1:]), Stats.of(verdicts[1:])
        rows.append(PlayRow(depth, width, presses, bar_stats, verdict_stats, bars[0],
                            bar_stats.median_s <= BARS_LIMIT_S, bars[0] <= START_LIMIT_S))
    return PlayResult(rows, torch.get_num_threads())


def render(result: PlayResult) -> list[object]:
    """One table: ms from a key to its bars and to its verdict, the start, against the targets."""
    table = Table(title="Play: from a key to the new screen (headless, 80×24, tanh xavier, "
                        f"batch 1, torch {result.torch_threads} thread(s))")
    for col in ("depth×width", "presses", "key → bars (median)", "max", "met",
                "key → verdict (median)", "start → first bars", "met"):
        table.add_column(col, justify="left" if col == "depth×width" else "right")
    for r in result.rows:
        table.add_row(f"{r.depth}×{r.width}", str(r.presses), fmt_s(r.bars.median_s),
                      fmt_s(r.bars.max_s), mark(r.ok), fmt_s(r.verdict.median_s),
                      fmt_s(r.start_s), mark(r.start_ok))
    table.caption = (f"targets: key → bars ≤ {BARS_LIMIT_S * 1e3:.0f} ms (median) for depth ≤ 50, "
                     f"width ≤ 256; start → first bars ≤ {START_LIMIT_S:g} s; the verdict (trial "
                     "runs of the advice, the check) follows, shown as it computes")
    return [table]

