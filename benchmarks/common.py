"""Shared pieces: settings, in-process timing, child processes, machine info and formatting."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIB = 2**20
Log = Callable[[str], None]
Sync = Callable[[], None]


@dataclass(frozen=True)
class Config:
    """What one benchmark run measures and how often."""

    quick: bool
    """Smoke mode: tiny sizes, one repeat, no warm-up."""
    devices: tuple[str, ...] = ("cpu",)
    repeats: int = 7
    """Samples per measurement (at least; fast ones run longer, see ``min_time_s``)."""
    min_time_s: float = 1.0
    """Fast measurements keep sampling until this much time has gone by."""

    @classmethod
    def make(cls, quick: bool, devices: tuple[str, ...]) -> Config:
        """The full settings, or the smoke-mode ones."""
        if quick:
            return cls(True, devices, repeats=1, min_time_s=0.0)
        return cls(False, devices)

    @property
    def warmup(self) -> bool:
        """Whether to run each measurement once, untimed, first."""
        return not self.quick


@dataclass
class Stats:
    """Summary of repeated timings, in seconds."""

    median_s: float
    min_s: float
    max_s: float
    n: int
    samples_s: list[float] = field(repr=False)

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        """Median, min and max of ``samples``."""
        values = list(samples)
        return cls(statistics.median(values), min(values), max(values), len(values), values)


def no_sync() -> None:
    """Nothing to wait for (CPU)."""


@dataclass
class Bench:
    """A timed ``call``; ``setup`` (untimed) makes the argument it is given."""

    call: Callable[[Any], object]
    setup: Callable[[], Any] = no_sync


def time_once(bench: Bench, sync: Sync = no_sync) -> float:
    """Seconds of one ``bench.call``, garbage collection off; its result is freed untimed."""
    arg = bench.setup()
    sync()
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        result = bench.call(arg)
        sync()
        elapsed = time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()
    del result, arg
    return elapsed


def time_interleaved(
    benches: Mapping[str, Bench], cfg: Config, sync: Sync = no_sync, max_repeats: int = 200
) -> dict[str, Stats]:
    """Sample every bench in turn (so drift hits all alike) ``cfg.repeats`` times or more."""
    if cfg.warmup:
        for bench in benches.values():
            time_once(bench, sync)
    samples: dict[str, list[float]] = {name: [] for name in benches}
    start = time.perf_counter()
    n = 0
    while n < cfg.repeats or (time.perf_counter() - start < cfg.min_time_s and n < max_repeats):
        for name, bench in benches.items():
            samples[name].append(time_once(bench, sync))
        n += 1
    return {name: Stats.of(s) for name, s in samples.items()}


def time_adaptive(bench: Bench, repeats: int, long_s: float, sync: Sync = no_sync) -> Stats:
    """The first run is a warm-up unless it takes ``long_s`` or more, when it is the only one."""
    first = time_once(bench, sync)
    if first >= long_s or repeats <= 1:
        return Stats.of([first])
    return Stats.of([time_once(bench, sync) for _ in range(repeats)])


@dataclass
class ChildRun:
    """One child process: wall time, peak resident memory and how it ended."""

    command: list[str]
    wall_s: float
    peak_rss_bytes: int
    returncode: int
    stderr: str = field(repr=False)


def _rss_bytes(maxrss: int) -> int:
    # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
    return maxrss if sys.platform == "darwin" else maxrss * 1024


# A child's ru_maxrss starts from the peak RSS of the process it was forked from (Linux keeps
# the old address space's high-water mark across exec), so commands are not started from this
# process, which holds torch and big tensors, but from this small helper, which times them.
_MEASURE = """
import json, os, subprocess, sys, threading, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
timer = threading.Timer(float(sys.argv[1]), proc.kill)
timer.start()
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
timer.cancel()
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"wall_s": wall, "maxrss": usage.ru_maxrss, "returncode": code}))
"""


def run_child(command: Sequence[str], timeout_s: float = 900.0) -> ChildRun:
    """Run ``command`` (its stdout discarded) from a small helper that reports its wall time
    and its own peak RSS (wait4), free of this process's footprint."""
    helper = [sys.executable, "-c", _MEASURE, str(timeout_s), *command]
    with tempfile.TemporaryFile() as err:
        out = subprocess.run(helper, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                             check=True, text=True)
        err.seek(0)
        text = err.read().decode("utf-8", errors="replace")
    got = json.loads(out.stdout)
    return ChildRun(list(command), got["wall_s"], _rss_bytes(got["maxrss"]), got["returncode"],
                    text)


def percgrad_launcher() -> tuple[list[str], str]:
    """Python arguments that start percgrad: the console script beside sys.executable, or -m."""
    script = Path(sys.executable).parent / "percgrad"
    if script.is_file():
        return [str(script)], f"console script {script} (run by {sys.executable})"
    return ["-m", "percgrad"], f"{sys.executable} -m percgrad"


def cpu_model() -> str:
    """The processor's name (percgrad's own reading of it)."""
    from percgrad.runtime.device import cpu_name

    return cpu_name()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages: other work on the machine skews timings."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cpu_stall_s() -> float | None:
    """Seconds, since boot, that some runnable task waited for a CPU (Linux PSI), or None."""
    try:
        with open("/proc/pressure/cpu", encoding="utf-8") as f:
            fields = dict(item.split("=") for item in f.readline().split()[1:])
    except (OSError, ValueError):
        return None
    return int(fields["total"]) / 1e6


def machine_info() -> dict[str, object]:
    """CPU, cores, Python, torch (version, threads, CUDA) and the code under test."""
    import torch

    import percgrad

    cuda = torch.cuda.is_available()
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cuda": torch.cuda.get_device_name(0) if cuda else None,
        "percgrad": percgrad.__version__,
        "git_commit": _git_commit(),
        "load_average": load_average(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def mark(ok: bool | None) -> str:
    """✔ or ✘ in Rich markup; a dash where no target applies."""
    if ok is None:
        return "[dim]—[/]"
    return "[bold green]✔[/]" if ok else "[bold red]✘[/]"


def fmt_s(seconds: float) -> str:
    """A duration with a unit that keeps three significant digits readable."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_mib(n_bytes: float) -> str:
    """Bytes in MiB."""
    return f"{n_bytes / MIB:,.1f} MiB"
