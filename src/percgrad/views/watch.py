"""What ``watch`` shows at the end of a run: the run, one table of every module over the watched
steps, the verdicts and the loss (Rich renderables, returned, never printed here)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from percgrad.reports.numbers import num
from percgrad.reports.user_sentences import percent
from percgrad.reports.watch import UPDATE_HIGH, UPDATE_LOW, ActivationTrack, WatchReport
from percgrad.reports.watch_sentences import (
    every_text,
    healthy_sentence,
    loss_sentence,
    nonfinite_sentence,
    verdict_sentence,
)
from percgrad.views.check import hanging, labelled
from percgrad.views.split import Col, Split
from percgrad.views.vanish import SPARKS, sparkline

SPARK_WIDTH = 24
"""Characters of a sparkline: more watched steps than this share a character."""

KIND_STYLES = {
    "non-finite": ("✘", "bold red"), "exploding": ("✘", "bold red"),
    "update-high": ("⚠", "red"), "vanishing": ("⚠", "yellow"), "dead": ("⚠", "magenta"),
    "update-low": ("⚠", "yellow"),
}
"""Each verdict kind's mark and colour."""


def buckets(values: Sequence[float | None], width: int = SPARK_WIDTH) -> list[float]:
    """``values`` in at most ``width`` points: the largest finite value of each run of
    consecutive ones (NaN where a run has none)."""
    n = len(values)
    if n <= width:
        return [v if v is not None else math.nan for v in values]
    out = []
    for i in range(width):
        part = values[i * n // width:(i + 1) * n // width]
        good = [v for v in part if v is not None and math.isfinite(v)]
        out.append(max(good) if good else math.nan)
    return out


def share_spark(shares: Sequence[float | None], width: int = SPARK_WIDTH) -> Text:
    """A sparkline of shares on the fixed scale 0 … 100% (· where none was recorded)."""
    out = Text()
    for v in buckets(shares, width):
        if math.isnan(v):
            out.append("·", style="dim")
        else:
            out.append(SPARKS[round(min(max(v, 0.0), 1.0) * (len(SPARKS) - 1))], style="magenta")
    return out


def _at(values: Sequence[float | None], k: int) -> float | None:
    return values[k] if -len(values) <= k < len(values) else None


def _norm_cell(v: float | None) -> Text:
    return Text(num(v, 3), style="" if v is None or math.isfinite(v) else "bold red")


def _last_ratio(values: Sequence[float | None], steps: Sequence[int]) -> Text:
    """The last update ratio recorded, with its step when an earlier one than the last."""
    k = next((i for i in range(min(len(values), len(steps)) - 1, -1, -1)
              if values[i] is not None and math.isfinite(values[i] or 0.0)), None)
    if k is None:
        return Text("—", style="dim")
    v = values[k] or 0.0
    out = Text(num(v, 2), style="red" if v > UPDATE_HIGH else ("yellow" if v < UPDATE_LOW else ""))
    if k != len(steps) - 1:
        out.append(f" @{steps[k]}", style="dim")
    return out


def _share(a: ActivationTrack, k: int) -> str:
    v = _at(a.share, k)
    return "—" if v is None else f"{percent(v)} {'dead' if a.kind == 'dead' else 'sat.'}"


def watch_header(report: WatchReport) -> Panel:
    """The script, its models, the steps watched and how it ended."""
    n = len(report.steps)
    every = every_text(report.every)
    params = sum(m.params for m in report.modules)
    rows = [
        ("target", report.target or "(Python API)"),
        ("models", f"{', '.join(report.models) or '—'} · {params:,} parameters in "
                   f"{len(report.modules)} module(s)"),
        ("steps", f"{n} watched of {report.total_steps} optimizer step(s) ({every})"),
    ]
    if report.interrupted:
        rows.append(("exit", "interrupted (Ctrl-C): the steps so far"))
    elif report.exit_code is not None:
        rows.append(("exit", f"the script's status {report.exit_code}"))
    return Panel(labelled(rows), title="[bold]percgrad watch[/]", title_align="left",
                 border_style="blue", expand=False)


def track_split(report: WatchReport) -> Split | None:
    """Every module (each parameter once) over the watched steps, then the activations."""
    steps = report.steps
    if not steps:
        return None
    mods, acts = report.modules, report.activations
    first, last = steps[0], steps[-1]
    concerned: dict[str, str] = {}
    for v in report.verdicts:
        for name in v.modules:
            style = "red" if v.kind in ("non-finite", "exploding", "update-high") else "yellow"
            concerned.setdefault(name, style)
    names = [m.name for m in mods] + [a.name for a in acts]
    first_cells: list[RenderableType] = [_norm_cell(_at(m.grad_norm, 0)) for m in mods]
    last_cells: list[RenderableType] = [_norm_cell(_at(m.grad_norm, -1)) for m in mods]
    sparks: list[RenderableType] = [sparkline(buckets(m.grad_norm)) for m in mods]
    ratios: list[RenderableType] = [_last_ratio(m.update_ratio, steps) for m in mods]
    first_cells += [_share(a, 0) for a in acts]
    last_cells += [_share(a, -1) for a in acts]
    sparks += [share_spark(a.share) for a in acts]
    ratios += ["" for _ in acts]
    many = len(steps) > SPARK_WIDTH
    cols = [
        Col("type", [m.type for m in mods] + [a.type for a in acts], "left"),
        Col(f"step {first}", first_cells),
        Col(f"step {last}", last_cells),
        Col(f"over {len(steps)} steps", sparks, "left"),
        Col("last ‖ΔW‖/‖W‖", ratios),
    ]
    caption = ("‖∂E/∂W‖ of all of a module's own parameters at the first and last watched step · "
               "over the steps: log ‖∂E/∂W‖, each row its own range"
               + (f", each character the largest of ~{len(steps) / SPARK_WIDTH:.2g} steps"
                  if many else "") + ", × none finite (NaN, ∞ or 0) · last ‖ΔW‖/‖W‖: the "
               "optimizer's last finite update ratio (usually ~1e-3; @s: at step s, none after)")
    if acts:
        caption += (" · activations: dead: share of ReLU units 0 for every sample; sat.: share of "
                    "sigmoid/tanh outputs with |φ′| < 10% of its max (0 … 100%, · not seen)")
    styles: list[str | None] = [concerned.get(n) for n in names]
    return Split("Modules × watched steps (‖∂E/∂W‖)", Col("module", names, "left"), cols,
                 caption, len(names), styles)


def verdict_lines(report: WatchReport) -> list[RenderableType]:
    """Every verdict in step order, coloured by its kind (or the healthy summary)."""
    if not report.verdicts:
        style = "bold green" if report.steps else "bold yellow"
        return [hanging(Text("✔" if report.steps else "?", style=style),
                        Text(healthy_sentence(report)))]
    out: list[RenderableType] = []
    for v in report.verdicts:
        mark, style = KIND_STYLES.get(v.kind, ("•", "bold"))
        sentence = verdict_sentence(report, v)
        head, sep, rest = sentence.partition(":")
        out.append(hanging(Text(mark, style=style),
                           Text.assemble((head + sep, f"bold {style}"), rest)))
    if report.nonfinite is not None and not any(v.kind == "non-finite" for v in report.verdicts):
        out.append(hanging(Text("✘", style="bold red"),
                           Text(nonfinite_sentence(report.nonfinite))))
    return out


def loss_line(report: WatchReport) -> Table:
    """The loss from first to last, with its sparkline."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("loss", Text(loss_sentence(report)))
    if len(report.steps) > 1:
        grid.add_row("", Text.assemble(sparkline(buckets(report.loss)),
                                       (" log scale, × not finite", "dim")))
    return grid


def watch_renderables(report: WatchReport) -> Group:
    """Everything ``percgrad watch`` shows at the end of a run."""
    parts: list[RenderableType] = [watch_header(report)]
    table = track_split(report)
    if table is not None:
        parts.append(table)
    parts += verdict_lines(report)
    parts.append(loss_line(report))
    if report.interrupted:
        parts.append(hanging(Text("■ INTERRUPTED", style="bold yellow"),
                             Text(f"Ctrl-C after {report.total_steps} optimizer step(s): the "
                                  "report covers the steps so far")))
    for note in report.notes:
        parts.append(hanging("⚠", note, "yellow"))
    t = report.timing
    if t.get("run_s") is not None and t.get("recording_s") is not None:
        parts.append(Text(f"time: run {t['run_s']:.3g} s, of which recording {t['recording_s']:.2g}"
                          " s", style="dim"))
    return Group(*parts)
