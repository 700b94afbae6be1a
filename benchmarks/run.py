"""``python -m benchmarks.run``: start-up, backward, check and memory benchmarks in one run.

Prints a Rich table per section, with each target and whether it is met, and writes every
figure, with the machine it ran on, to benchmarks/results.json (or --out).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console

from benchmarks.common import Config, cpu_stall_s, load_average, machine_info

SECTIONS = ("startup", "backward", "check", "usercheck", "inspect", "memory", "depth", "phase", "watch",
            "play")
DEFAULT_OUT = Path(__file__).with_name("results.json")
BUSY_LOAD = 0.5
"""Warn when the 1-minute load average exceeds this fraction of the cores before starting."""


def _sections(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in SECTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated subset of {','.join(SECTIONS)}, got {text!r}"
        )
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line: --quick, --device, --only, --out."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke mode: tiny sizes, one repeat, a few seconds (CI)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: also run the backward section on CUDA (skipped if absent)")
    parser.add_argument("--only", type=_sections, default=SECTIONS, metavar="SECTIONS",
                        help=f"comma-separated sections to run (default: {','.join(SECTIONS)})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="PATH",
                        help=f"where to write the JSON (default: {DEFAULT_OUT})")
    return parser.parse_args(argv)


def make_console() -> Console:
    """Rich console; wide enough for the tables when writing to a file or pipe."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=180)
    return console


def _targets(value: Any) -> tuple[int, int]:
    """(met, missed) over every ``ok`` / ``*_ok`` field in a section's result."""
    met = missed = 0
    if isinstance(value, dict):
        for key, item in value.items():
            if (key == "ok" or key.endswith("_ok")) and isinstance(item, bool):
                met, missed = met + item, missed + (not item)
            else:
                m, x = _targets(item)
                met, missed = met + m, missed + x
    elif isinstance(value, list):
        for item in value:
            m, x = _targets(item)
            met, missed = met + m, missed + x
    return met, missed


def run_section(module: ModuleType, cfg: Config, console: Console) -> dict[str, Any]:
    """Measure one section, print its tables, return its figures as plain data."""
    start, stall = time.perf_counter(), cpu_stall_s()
    result = module.measure(cfg, lambda msg: console.print(f"[dim]… {msg}[/]"))
    wall = time.perf_counter() - start
    for part in module.render(result):
        console.print(part)
    data: dict[str, Any] = dataclasses.asdict(result)
    data["section_wall_s"] = wall
    data["cpu_wait_fraction"] = None
    end_stall = cpu_stall_s()
    if stall is not None and end_stall is not None:
        data["cpu_wait_fraction"] = (end_stall - stall) / wall
        console.print(f"[dim]{wall:.1f} s; some task waited for a CPU "
                      f"{data['cpu_wait_fraction']:.0%} of that time (PSI: other work, or this "
                      "run's own threads, competing for the cores).[/]")
    return data


def _machine_line(m: dict[str, Any]) -> str:
    """One line about where this ran: CPU, cores, torch and its threads, load."""
    cuda = f", CUDA: {m['cuda']}" if m["cuda"] else ""
    return (f"[dim]{m['cpu']}, {m['logical_cores']} cores; Python {m['python']}, torch "
            f"{m['torch']} with {m['torch_threads']} thread(s){cuda}; load average "
            f"{m['load_average']}; percgrad {m['percgrad']} ({m['git_commit']})[/]")


def _busy_warning(m: dict[str, Any]) -> str | None:
    """A warning when other work already loads the machine: timings will be inflated."""
    load, cores = m["load_average"], m["logical_cores"] or 1
    if load is None or load[0] <= BUSY_LOAD * cores:
        return None
    return (f"[yellow]warning: the load average is {load[0]:.1f} on {cores} core(s) before "
            "starting; other work will inflate and scatter the timings.[/]")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sections asked for, print their tables, write the JSON."""
    args = parse_args(argv)
    devices = ("cpu", "cuda") if args.device == "cuda" else ("cpu",)
    cfg = Config.make(args.quick, devices)
    console = make_console()
    report: dict[str, Any] = {
        "machine": machine_info(),
        "config": {**dataclasses.asdict(cfg), "sections": list(args.only)},
        "sections": {},
    }
    console.print(_machine_line(report["machine"]))
    warning = _busy_warning(report["machine"])
    if warning is not None:
        console.print(warning)
    start = time.perf_counter()
    for name in args.only:
        console.rule(f"[bold]{name}")
        module = importlib.import_module(f"benchmarks.{name}")
        report["sections"][name] = run_section(module, cfg, console)
    report["wall_s"] = time.perf_counter() - start
    report["load_average_end"] = load_average()
    met, missed = _targets(report["sections"])
    report["targets"] = {"met": met, "missed": missed}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    style = "green" if not missed else "red"
    console.print(f"[{style}]targets met: {met}, missed: {missed}[/] "
                  f"({report['wall_s']:.1f} s; figures in {args.out})")
    if args.quick:
        console.print("[dim]quick mode: smoke sizes and one repeat; targets are not meaningful.[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
