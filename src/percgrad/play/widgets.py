"""The panels of ``percgrad play``: the controls, the per-layer bars, the phase plane and the
verdict. Each draws itself for the size it has, from vanish's own records and sentences."""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any

from textual.content import Content
from textual.widget import Widget

from percgrad.catalog import ACTIVATIONS
from percgrad.play.compute import Frame, Plane
from percgrad.play.plane import plane_view
from percgrad.play.state import READING_ROWS, ROWS, SETTING_ROWS, Play, value_text
from percgrad.reports import sentences
from percgrad.reports.numbers import num
from percgrad.reports.run import Report
from percgrad.views.fit import Prose
from percgrad.views.format import bar_range, log_bar, make_console
from percgrad.views.verdict import check_status as verdict_status
from percgrad.views.verdict import verdict

TICK = "┃"
"""Where theory puts ‖δ_k‖ on its bar."""
DIAGNOSIS_STYLES = {"vanishing": "bold yellow", "exploding": "bold red", "stable": "bold green",
                    "dead": "bold red", "non-finite": "bold red", "signal-lost": "bold red"}
"""As vanish colours its diagnosis."""



@dataclass
class Shown:
    """One set of bars: per layer (layer 1 first) ‖∂E/∂W‖, ‖δ‖, predicted and measured factor."""

    title: str
    grad: list[float]
    delta: list[float]
    predicted: list[float | None]
    measured: list[float | None]
    grad_range: tuple[float, float]
    delta_range: tuple[float, float]


def shown_at_init(report: Report, title: str) -> Shown:
    """The bars of the chain as drawn (the report's layers)."""
    layers = report.layers
    grad = [layer.grad_norm for layer in layers]
    delta = [layer.delta_norm for layer in layers]
    return Shown(title, grad, delta, [layer.predicted_factor for layer in layers],
                 [layer.measured_factor for layer in layers], bar_range(grad), bar_range(delta))


def shown_in_training(report: Report, index: int) -> Shown:
    """The bars at the ``index``-th recorded training step, on the scale of the whole run."""
    hist, train = report.history, report.training
    assert hist and train is not None
    point = hist[index]
    grad, delta = point.grad_norm, point.delta_norm
    measured: list[float | None] = [
        (a / b) ** 2 if b > 0 and math.isfinite(a) and math.isfinite(b) else None
        for a, b in itertools.pairwise(delta)] + [None]
    title = f"step {point.step} of {train.steps} (SGD, lr {train.lr:g}) · loss {num(point.loss, 4)}"
    return Shown(title, grad, delta, [layer.predicted_factor for layer in report.layers], measured,
                 bar_range([g for h in hist for g in h.grad_norm]),
                 bar_range([d for h in hist for d in h.delta_norm]))


def picks(n: int, rows: int) -> list[int]:
    """Which of ``n`` layers get the ``rows`` lines there are: all, or evenly spaced with both ends."""
    if n <= rows:
        return list(range(n))
    rows = max(rows, 2)
    return sorted({round(i * (n - 1) / (rows - 1)) for i in range(rows)})


def theory_deltas(delta: list[float], predicted: list[float | None]) -> list[float | None]:
    """Theory's ‖δ_k‖ from the last layer's: ‖δ_L‖·√(χ_k·…·χ_L−1)."""
    out: list[float | None] = [None] * len(delta)
    if not delta or not (delta[-1] > 0 and math.isfinite(delta[-1])):
        return out
    value: float | None = delta[-1]
    out[-1] = value
    for k in range(len(delta) - 2, -1, -1):
        chi = predicted[k]
        value = value * math.sqrt(chi) if value is not None and chi is not None and chi > 0 \
            and math.isfinite(chi) else None
        out[k] = value
    return out


def _bar(value: float, span: tuple[float, float], width: int, tick: float | None = None) -> Content:
    """vanish's log bar, with theory's tick where it falls."""
    bar = Content.from_rich_text(log_bar(value, span[0], span[1], width=width))
    if bar.cell_length < width:
        bar = bar.pad_right(width - bar.cell_length)
    if tick is None or not (tick > 0 and math.isfinite(tick)) or span[1] <= span[0]:
        return bar
    frac = (math.log10(tick) - math.log10(span[0])) / (math.log10(span[1]) - math.log10(span[0]))
    i = min(max(round(frac * width) - 1, 0), width - 1)
    head, _, tail = bar.divide([i, i + 1])
    return Content.assemble(head, (TICK, "bold yellow"), tail)


def bars_view(shown: Shown, width: int, height: int) -> Content:
    """The per-layer panel: ‖∂E/∂W‖ and ‖δ‖ as log bars, theory's ‖δ‖ ticked on its bar, the
    predicted factor χ_k beside the measured one."""
    n = len(shown.grad)
    kw = max(len(str(n)), 1)
    extra = [("χ_k", shown.predicted), ("meas.", shown.measured)]
    fixed = kw + 2 * 8 + 2
    while extra and width - fixed - 8 * len(extra) < 16:
        extra.pop()
    bw = max((width - fixed - 8 * len(extra)) // 2, 4)
    layers = picks(n, height - 3)
    title = f"{shown.title}" + (f" · {len(layers)}/{n} layers" if len(layers) < n else "")
    lines = [Content.styled(title, "bold"),
             Content(f"{'k':>{kw}} {'‖∂E/∂W‖':>7} {'':{bw}} {'‖δ‖':>7} {'┃ theory':{bw}}"
                     + "".join(f" {name:>7}" for name, _ in extra))]
    ticks = theory_deltas(shown.delta, shown.predicted)
    for k in layers:
        lines.append(Content.assemble(
            f"{k + 1:>{kw}} {num(shown.grad[k], 3):>7} ", _bar(shown.grad[k], shown.grad_range, bw),
            f" {num(shown.delta[k], 3):>7} ", _bar(shown.delta[k], shown.delta_range, bw, ticks[k]),
            "".join(f" {num(values[k], 3):>7}" for _, values in extra)))
    lines.append(Content.styled(_legend(shown, width), "dim"))
    return Content("\n").join(lines)


def _legend(shown: Shown, width: int) -> str:
    """The line under the bars, as long as fits."""
    if not any(v > 0 and math.isfinite(v) for v in shown.grad + shown.delta):
        return "bars: empty, every ‖∂E/∂W‖ and ‖δ‖ is 0 or not finite"[:width]
    (g0, g1), (d0, d1) = shown.grad_range, shown.delta_range
    scales = f"{num(g0, 1)}…{num(g1, 2)} and {num(d0, 1)}…{num(d1, 2)}"
    tick = "┃ theory: ‖δ_L‖·√(χ_k⋯χ_L−1)"
    for text in (f"layer 1 = input side · log bars {scales} · {tick}",
                 f"log bars {scales} · {tick}", f"log bars · {tick}", "log bars"):
        if len(text) <= width:
            return text
    return ""


MARKS = {"off": "…", "vacuous": "○ vacuous", "inconclusive": "? inconclusive", "pass": "✔ pass",
         "FAIL": "✘ FAIL", "n/a (not finite)": "n/a"}
"""The check's word as the readings panel shows it (a mark, and short)."""


def check_status(report: Report) -> tuple[str, str]:
    """The check in a word or two (vanish's word, marked), and its style."""
    word, style = verdict_status(report)
    return MARKS.get(word, word), style


def reading_label(frame: Frame | None, name: str, label: str) -> str:
    """A reading's label: the units' share is of dead ones where there are any, of inactive
    ones (the flat side) for a kinked φ, else of saturated ones."""
    if name != "saturated" or frame is None:
        return label
    if any(layer.dead_units for layer in frame.report.layers):
        return "dead units"
    return "inactive" if ACTIVATIONS[frame.settings.activation].kink else label


def reading(frame: Frame | None, name: str) -> tuple[str, str]:
    """A reading of the run shown under the settings, and its style."""
    if frame is None:
        return "…", "dim"
    report = frame.report
    if name == "decay":
        summ = report.summary
        return (num(summ.delta_decay, 3), "") if summ is not None else ("…", "dim")
    if name == "chi":
        return num(frame.mean_chi, 3), ""
    if name == "saturated":
        dead = max((layer.dead_units for layer in report.layers), default=0.0)
        worst = dead or max((layer.saturated for layer in report.layers), default=0.0)
        return f"{worst:.0%}", "yellow" if worst >= 0.1 else ""
    return check_status(report)


def controls_view(play: Play, frame: Frame | None, width: int) -> Content:
    """Every setting with its value and keys, then the readings; the cursor's line reversed."""
    lines: list[Content] = []
    for i, row in enumerate(ROWS):
        if row is READING_ROWS[0]:
            lines.append(Content.styled(f"{' readings · e explains ':─^{width}}", "dim"))
        if i < len(SETTING_ROWS):
            value, style = value_text(play.settings, row.name), ""
            keys = f"{row.down} {row.up}"
        else:
            (value, style), keys = reading(frame, row.name), ""
        mark = "▸ " if i == play.cursor else "  "
        room = max(width - len(mark) - 4, 8)
        label = reading_label(frame, row.name, row.label)
        label = label if len(label) < room - len(value) else label[:max(room - len(value) - 1, 1)]
        pad = max(room - len(label) - len(value), 1)
        line = Content.assemble(mark, label, " " * pad, (value, style), f" {keys:>3}")
        lines.append(line.stylize("reverse") if i == play.cursor else line)
    return Content("\n").join(lines)


def _prose(text: str, width: int, style: str = "", indent: str = "", hang: str = "") -> list[Content]:
    return [Content.styled(line, style) for line in Prose(text, indent=indent, hang=hang).lines(width)]


def _rich_lines(renderable: Any, width: int) -> list[Content]:
    """Any of the views' Rich renderables (a Text, a Prose, a grid) as lines of ``width``."""
    console = make_console(quiet=True, width=width)
    lines = console.render_lines(renderable, console.options.update(width=width), pad=False)
    return [Content.assemble(*((seg.text, str(seg.style) if seg.style else "")
                               for seg in line if not seg.control)).rstrip()
            for line in lines]


def verdict_view(frame: Frame | None, width: int, progress: str = "", stale: bool = False,
                 budget: int = 1000) -> Content:
    """The verdict as vanish words it: diagnosis with χ̄ and ξ, why, the check, tried advice,
    warnings and notes, as many of them (in that order) as ``budget`` lines hold; dimmed under
    the progress line while a newer one computes."""
    if frame is None or not frame.final:
        return Content.styled(progress or "computing the verdict…", "dim")
    body = _verdict_lines(frame, width, budget - (1 if stale else 0))
    if not stale:
        return Content("\n").join(body)
    head = Content.styled(progress or "computing the verdict of the new settings…", "italic")
    return Content("\n").join([head, *(line.stylize("dim") for line in body)])


def _verdict_lines(frame: Frame, width: int, budget: int) -> list[Content]:
    """The verdict's sections that fit ``budget`` lines, taken by priority, shown in order."""
    report = frame.report
    summ, th = report.summary, report.theory
    assert summ is not None and th is not None
    depth = len(report.layers)
    label = "SIGNAL LOST" if summ.diagnosis == "signal-lost" else summ.diagnosis.upper()
    head = [Content.assemble(
        (label, DIAGNOSIS_STYLES.get(summ.diagnosis, "bold")),
        f"  χ̄ = {num(th.mean_chi, 3)} (theory), {num(summ.measured_mean_factor, 3)} measured")]
    why = _prose(sentences.diagnosis(summ, th, depth, report.settings), width, indent="  ")
    scale = _prose(sentences.depth_scale(th.depth_scale, th.critical, th.growing), width)
    advice = [line for a in summ.advice
              for line in _prose(f"→ {sentences.advice(a)}", width, "dim", "  ", "  ")]
    parts = verdict(dataclasses.replace(report, timing={}))  # warnings, then the check
    check = _rich_lines(parts[-1], width)
    warnings = [line for part in parts[:-1] for line in _rich_lines(part, width)]
    notes = [line for note in summ.notes if note != "bound-off"  # play's own choice: no news
             for line in _prose(f"note: {sentences.flow_note(note)}", width, "italic dim", "  ", "  ")]
    shown = [head, scale, why, advice, warnings, check, notes]
    kept: set[int] = set()
    left = budget
    for i in (0, 2, 5, 1, 3, 4, 6):  # by priority
        if len(shown[i]) <= left:
            kept.add(i)
            left -= len(shown[i])
    return [line for i, section in enumerate(shown) if i in kept for line in section]


class Panel(Widget):
    """A panel drawn by a function of its size (``draw``), redrawn when its data change."""

    DEFAULT_CSS = "Panel { height: auto; }"
    width_hint = 0
    """The width Textual last measured the panel's height at (before it has a size)."""

    def draw(self, width: int, height: int) -> Content:
        """The panel's text at this size."""
        return Content("")

    def render(self) -> Content:
        """Textual's hook: draw for the size the panel has now."""
        size = self.content_size
        return self.draw(max(size.width or self.width_hint, 20), max(size.height, 3))

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        """Textual's hook: the lines the panel takes at ``width`` (never cached: data change)."""
        self.width_hint = width
        if not width:
            return 0
        return self.draw(width, viewport.height).get_height(self.styles, width)  # type: ignore[arg-type]


class Controls(Panel):
    """The settings, their keys, the readings, the cursor."""

    def __init__(self, play: Play, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.play = play
        self.frame: Frame | None = None

    def draw(self, width: int, height: int) -> Content:
        """controls_view."""
        return controls_view(self.play, self.frame, width)


class Bars(Panel):
    """The per-layer bars."""

    shown: Shown | None = None
    stale = False
    """The bars are of the previous settings (dimmed while a slow run computes the new ones)."""

    def draw(self, width: int, height: int) -> Content:
        """bars_view, or a word while the first run computes."""
        if self.shown is None:
            return Content.styled("computing…", "dim")
        bars = bars_view(self.shown, width, height)
        return bars.stylize("dim") if self.stale else bars


class PlaneView(Panel):
    """The phase plane and the chain's point on it."""

    plane: Plane | None = None
    point: tuple[float, float] | None = None
    arch = "plain"

    def draw(self, width: int, height: int) -> Content:
        """plane_view."""
        return plane_view(self.plane, self.point, width, height, self.arch)


class Verdict(Panel):
    """The verdict, the check and the progress of a computation."""

    frame: Frame | None = None
    progress = ""
    stale = False
    budget = 1000
    """Lines the verdict may take (the app sets it from the terminal's height)."""
    error = ""

    def draw(self, width: int, height: int) -> Content:
        """verdict_view, or the error of the last change."""
        if self.error:
            return Content("\n").join(Content.styled(self.error, "bold red").wrap(width))
        return verdict_view(self.frame, width, self.progress, self.stale, self.budget)
