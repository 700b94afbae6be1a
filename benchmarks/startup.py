"""Start-up: wall time of short percgrad commands against a bare ``import torch``."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from rich.table import Table

from benchmarks.common import (
    ChildRun,
    Config,
    Log,
    Stats,
    fmt_mib,
    fmt_s,
    mark,
    percgrad_launcher,
    run_child,
)

LIGHT_LIMIT_S = 0.3
"""--help and --version: at most this long, and never importing torch."""
SINGLE_RATIO = 1.2
"""``single``: at most this times a bare ``import torch``."""

LIGHT = {"percgrad --help": ["--help"], "percgrad --version": ["--version"]}
SINGLE = {"percgrad single --inputs 3 --device cpu": ["single", "--inputs", "3", "--device", "cpu"]}
BASELINES = {'python -c "import torch"': ["-c", "import torch"], 'python -c "pass"': ["-c", "pass"]}


@dataclass
class StartupRow:
    """One command's start-up time and, where set, its target."""

    name: str
    command: list[str]
    wall: Stats
    peak_rss_bytes: int
    imports_torch: bool | None
    target: str
    ratio_to_torch: float | None
    ok: bool | None


@dataclass
class StartupResult:
    """The start-up section: how percgrad was launched, and one row per command."""

    launcher: str
    rows: list[StartupRow]


def imports_torch(python_args: list[str]) -> bool:
    """Whether ``python -X importtime ARGS`` imports torch or any of its submodules."""
    run = run_child([sys.executable, "-X", "importtime", *python_args])
    for line in run.stderr.splitlines():
        if line.startswith("import time:"):
            name = line.rsplit("|", 1)[-1].strip()
            if name == "torch" or name.startswith("torch."):
                return True
    return False


def _commands(launch: list[str]) -> dict[str, list[str]]:
    commands = {name: [sys.executable, *launch, *args] for name, args in {**LIGHT, **SINGLE}.items()}
    commands.update({name: [sys.executable, *args] for name, args in BASELINES.items()})
    return commands


def _sample_all(commands: dict[str, list[str]], cfg: Config, log: Log) -> dict[str, list[ChildRun]]:
    """Every command in turn, ``cfg.repeats`` rounds, after one untimed round (full mode)."""
    if cfg.warmup:
        for command in commands.values():
            run_child(command)
    runs: dict[str, list[ChildRun]] = {name: [] for name in commands}
    for i in range(cfg.repeats):
        log(f"start-up round {i + 1}/{cfg.repeats}")
        for name, command in commands.items():
            run = run_child(command)
            if run.returncode != 0:
                raise RuntimeError(f"{name} exited with {run.returncode}: {run.stderr[-500:]}")
            runs[name].append(run)
    return runs


def measure(cfg: Config, log: Log) -> StartupResult:
    """Median wall time of each command, all measured in this one run, round-robin."""
    launch, launcher = percgrad_launcher()
    commands = _commands(launch)
    runs = _sample_all(commands, cfg, log)
    torch_s = Stats.of([r.wall_s for r in runs['python -c "import torch"']]).median_s
    rows = []
    for name, command in commands.items():
        wall = Stats.of([r.wall_s for r in runs[name]])
        rss = max(r.peak_rss_bytes for r in runs[name])
        ratio = wall.median_s / torch_s
        if name in LIGHT:
            heavy = imports_torch([*launch, *LIGHT[name]])
            ok: bool | None = wall.median_s <= LIGHT_LIMIT_S and not heavy
            target = f"≤ {LIGHT_LIMIT_S} s, no torch"
            rows.append(StartupRow(name, command, wall, rss, heavy, target, ratio, ok))
        elif name in SINGLE:
            ok = ratio <= SINGLE_RATIO
            target = f"≤ {SINGLE_RATIO} × import torch"
            rows.append(StartupRow(name, command, wall, rss, True, target, ratio, ok))
        else:
            rows.append(StartupRow(name, command, wall, rss, None, "baseline", ratio, None))
    return StartupResult(launcher, rows)


def render(result: StartupResult) -> list[object]:
    """One table: median and min wall time, ratio to import torch, torch imported, target."""
    n = result.rows[0].wall.n
    table = Table(title=f"Start-up (wall time of a subprocess, median of {n})",
                  caption=f"percgrad launched as: {result.launcher}")
    for col in ("command", "median", "min", "× import torch", "peak RSS", "imports torch",
                "target", "met"):
        table.add_column(col, justify="left" if col in ("command", "target") else "right")
    for row in result.rows:
        heavy = "—" if row.imports_torch is None else ("yes" if row.imports_torch else "no")
        ratio = "—" if row.ratio_to_torch is None else f"{row.ratio_to_torch:.2f}"
        table.add_row(row.name, fmt_s(row.wall.median_s), fmt_s(row.wall.min_s), ratio,
                      fmt_mib(row.peak_rss_bytes), heavy, row.target, mark(row.ok))
    return [table]
