"""The Textual app of ``percgrad play``: a key changes the settings (state.py), a worker thread
recomputes the chain (compute.py: the bars first, then vanish's verdict) while the screen stays
live, and a newer key cancels stale work."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from percgrad.catalog import describe
from percgrad.errors import PercgradError
from percgrad.play import compute, render
from percgrad.play.compute import Frame, Plane
from percgrad.play.pages import explain_page, help_page
from percgrad.play.state import (
    KEYS,
    MOVES,
    NUDGES,
    Play,
    Settings,
    command_line,
    critical_sigma_b2,
    on_critical_line,
    press,
)
from percgrad.play.widgets import (
    Bars,
    Controls,
    PlaneView,
    Verdict,
    shown_at_init,
    shown_in_training,
)
from percgrad.views.vanish import chain_formula

CSS = """
Screen { layout: vertical; }
#title { height: 1; text-style: bold; background: $boost; padding: 0 1; }
#main { height: 1fr; }
#left { width: 29; padding: 0 1 0 1; border-right: vkey $foreground 30%; }
#left.-wide { width: 38; }
#controls { height: auto; }
#plane { height: 1fr; min-height: 4; max-height: 14; text-wrap: nowrap; text-overflow: clip; }
#right { width: 1fr; padding: 0 1; }
#bars { height: 1fr; min-height: 5; text-wrap: nowrap; text-overflow: clip; }
#verdict { height: auto; max-height: 55%; }
#command { height: auto; padding: 0 1; color: $text-muted; }
"""
WIDE = 110
"""From this many columns the controls panel is wider."""
FRAME_S = 0.04
"""Seconds per recorded training step in the animation of ``t``."""
SLOW_S = 0.25
"""Work running longer than this shows its progress."""


def _bindings() -> list[BindingType]:
    """The footer's keys, then every setting's own keys (listed in the controls panel)."""
    shown = [
        Binding("up", "press('up')", "move", key_display="↑↓"),
        Binding("left", "press('left')", "change", key_display="←→"),
        Binding("t", "press('t')", "train"), Binding("r", "press('r')", "reseed"),
        Binding("x", "critical", "χ₁=1"), Binding("e", "explain", "explain"),
        Binding("s", "save", "save"), Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "quit", "quit"),
    ]
    named = {b.key for b in shown if isinstance(b, Binding)}
    hidden = [Binding(key, f"press({key!r})", show=False)
              for key in (*KEYS, *MOVES, *NUDGES) if key not in named]
    return [*shown, *hidden]


class PlayApp(App[int]):
    """percgrad play."""

    TITLE = "percgrad play"
    CSS = CSS
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = _bindings()

    def __init__(self, settings: Settings | None = None, save_dir: Path | None = None) -> None:
        super().__init__()
        self._born = time.perf_counter()
        self.play = Play(settings or Settings())
        self.save_dir = save_dir or Path.cwd()
        self.frame: Frame | None = None
        self.saved: list[tuple[str, str]] = []
        """(SVG path, its vanish command line) of every ``s``."""
        self.latencies: list[float] = []
        """Seconds from a key to its new bars on the screen, per change (the first: from the
        app's start)."""
        self.verdict_latencies: list[float] = []
        """Seconds from a key to its whole verdict on the screen."""
        self._key_at: float | None = None
        self._verdict_from: float | None = None
        self._work_since: float | None = None
        self._said = ("", 0, 0)
        self._animation: Timer | None = None
        self._frames: list[int] = []

    def compose(self) -> ComposeResult:
        """Title; controls and phase plane beside the bars and verdict; command line; footer."""
        yield Static(id="title")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Controls(self.play, id="controls")
                yield PlaneView(id="plane")
            with Vertical(id="right"):
                yield Bars(id="bars")
                yield Verdict(id="verdict")
        yield Static(id="command")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """The first run, the phase plane and the progress clock."""
        self.query_one("#title", Static).update("percgrad play")
        compute.leave_a_core()
        self._start(self.play.settings)
        self._key_at = self._verdict_from = self._born  # the first bars: from the app's start
        self.load_plane(self.play.settings.activation)
        self.set_interval(0.1, self._tick)

    def on_resize(self) -> None:
        """A wider controls panel on a wide terminal; a third of the height for the verdict."""
        self.query_one("#left").set_class(self.size.width >= WIDE, "-wide")
        verdict = self.query_one(Verdict)
        verdict.budget = max(6, (self.size.height - 4) // 3)
        verdict.refresh(layout=True)

    @property
    def busy(self) -> bool:
        """Whether a run is computing or training is being animated."""
        return self._work_since is not None or self._animation is not None

    # ------------------------------------------------------------------ keys

    def action_press(self, key: str) -> None:
        """A setting's key, a cursor move or a change (state.press)."""
        before = self.play
        implied = self.frame.sigma_w2 if self.frame is not None else None
        self.play = press(self.play, key, implied)
        self._changed(before)

    def _changed(self, before: Play) -> None:
        controls = self.query_one(Controls)
        controls.play = self.play
        controls.refresh(layout=True)
        if self.play.settings != before.settings:
            if self.play.settings.activation != before.settings.activation:
                self.load_plane(self.play.settings.activation)
            self._start(self.play.settings)

    def action_critical(self) -> None:
        """σ_w² onto the critical line at this σ_b² (found off the UI thread)."""
        s = self.play.settings
        self.say(f"finding the critical σ_w² of {s.activation} at σ_b² = {critical_sigma_b2(s):g}…")
        self.find_critical(s)

    @work(exclusive=True, thread=True, group="critical")
    def find_critical(self, s: Settings) -> None:
        """The worker of ``x``."""
        value = compute.critical(s.activation, critical_sigma_b2(s))
        self._from_thread(self._on_critical, s, value)

    def _on_critical(self, s: Settings, value: float | None) -> None:
        if self.play.settings != s:
            return
        if value is None:
            self.say(f"{s.activation} has no critical line at σ_b² = {critical_sigma_b2(s):g} "
                     "(χ₁ stays below 1 up to σ_w² = 64)", "warning")
            return
        before = self.play
        self.play = dataclasses.replace(self.play, settings=on_critical_line(s, value))
        self.say(f"σ_w² = {self.play.settings.sigma_w2:g}: χ₁ = 1 at the fixed point")
        self._changed(before)

    def action_explain(self) -> None:
        """The ``explain`` page of what is under the cursor."""
        topic = self.play.row.topic
        if topic == "saturation" and self.play.settings.activation in ("relu", "leaky-relu"):
            topic = "dead-units"
        self.say(f"computing percgrad explain {topic}…")
        self.explain(topic)

    @work(exclusive=True, thread=True, group="explain")
    def explain(self, topic: str) -> None:
        """The worker of ``e``: the topic's worked example, computed now."""
        from percgrad.api import explain
        from percgrad.views.explain import page

        body = page(explain(topic))
        self._from_thread(self._open_page, body, topic)

    def _open_page(self, body: object, topic: str) -> None:
        self.say(f"percgrad explain {topic} (Esc closes)")
        self.push_screen(explain_page(body))

    def action_help(self) -> None:
        """The key table."""
        self.push_screen(help_page())

    def action_save(self) -> None:
        """The screen as SVG (and as text beside it), and its vanish command line."""
        path = render.next_path(self.save_dir)
        self.save_screenshot(filename=path.name, path=str(path.parent))
        path.with_suffix(".txt").write_text(render.screen_text(self), encoding="utf-8")
        shown = self.frame.settings if self.frame is not None else self.play.settings
        line = command_line(shown)
        self.saved.append((str(path), line))
        self.say(f"saved {path.name} (+ .txt): {line}")

    async def action_quit(self) -> None:
        """Leave with exit status 0."""
        self.exit(0)

    # ------------------------------------------------------------------ computing

    def _start(self, s: Settings) -> None:
        self._key_at = time.perf_counter()
        self._work_since = self._verdict_from = self._key_at
        self._said = ("", 0, 0)
        self.recompute(s)

    @work(exclusive=True, thread=True, group="run")
    def recompute(self, s: Settings) -> None:
        """The worker of every change: the bars first, then the whole vanish report."""
        worker = get_current_worker()

        def said(label: str, done: int, total: int) -> None:
            self._said = (label, done, total)

        track = compute.tracker(lambda: worker.is_cancelled, said)
        try:
            if not s.steps:  # training starts from the chain already shown
                frame = compute.preview(s, track)
                if not worker.is_cancelled:
                    self._from_thread(self.show, frame)
            frame = compute.full(s, track)
        except compute.Cancelled:
            return
        except PercgradError as exc:
            self._from_thread(self._failed, s, str(exc))
            return
        except MemoryError:
            self._from_thread(self._failed, s, "out of memory: use a smaller width, depth or batch")
            return
        if not worker.is_cancelled:
            self._from_thread(self.show, frame)

    def _from_thread(self, call: object, *args: object) -> None:
        """``call(*args)`` on the UI thread (nothing once the app is closing)."""
        with contextlib.suppress(RuntimeError):
            self.call_from_thread(call, *args)  # type: ignore[arg-type]

    def _failed(self, s: Settings, message: str) -> None:
        if self.play.settings == s:
            self._work_since = None
            verdict = self.query_one(Verdict)
            verdict.error = f"Error: {message}"
            verdict.refresh(layout=True)

    def show(self, frame: Frame) -> None:
        """Draw a frame of the current settings (a stale one is dropped)."""
        if frame.settings != self.play.settings:
            return
        previous, self.frame = self.frame, frame
        s, report = frame.settings, frame.report
        what = describe(str(report.settings["norm"]), bool(report.settings["residual"]))
        self.query_one("#title", Static).update(
            f"percgrad play — {what} of {s.depth} layer{'s' if s.depth != 1 else ''} of width "
            f"{s.width}: {chain_formula(report.settings)}")
        self.query_one("#command", Static).update(f"$ {command_line(s)}")
        controls = self.query_one(Controls)
        controls.frame = frame
        controls.refresh(layout=True)
        plane = self.query_one(PlaneView)
        plane.point, plane.arch = (frame.sigma_w2, frame.sigma_b2), s.arch
        plane.refresh()
        self._stop_animation()
        if frame.final and report.history:
            self._train_frames(frame, previous)
        else:
            self._bars(shown_at_init(report, "per layer at init"))
        if self._key_at is not None:
            self.call_after_refresh(self._stamp, self.latencies, self._key_at)
            self._key_at = None
        if frame.final and self._verdict_from is not None:
            self.call_after_refresh(self._stamp, self.verdict_latencies, self._verdict_from)
            self._verdict_from = None
        if frame.final:
            self._work_since = None
            verdict = self.query_one(Verdict)
            verdict.frame, verdict.progress, verdict.stale, verdict.error = frame, "", False, ""
            verdict.refresh(layout=True)

    def _bars(self, shown: object) -> None:
        bars = self.query_one(Bars)
        bars.shown, bars.stale = shown, False  # type: ignore[assignment]
        bars.refresh()

    @staticmethod
    def _stamp(into: list[float], since: float) -> None:
        into.append(time.perf_counter() - since)

    def _train_frames(self, frame: Frame, previous: Frame | None) -> None:
        """Step the bars through the recorded training steps not shown yet."""
        hist = frame.report.history or []
        before = previous.settings.steps if previous is not None else 0
        self._frames = [i for i, h in enumerate(hist) if h.step >= before] or [len(hist) - 1]
        self._animation = self.set_interval(FRAME_S, self._next_frame)
        self._next_frame()

    def _next_frame(self) -> None:
        if self.frame is None or not self._frames:
            self._stop_animation()
            return
        self._bars(shown_in_training(self.frame.report, self._frames.pop(0)))
        if not self._frames:
            self._stop_animation()

    def _stop_animation(self) -> None:
        if self._animation is not None:
            self._animation.stop()
            self._animation = None

    def _tick(self) -> None:
        """Progress of a run that takes a while (the screen never waits for it)."""
        if self._work_since is None:
            return
        elapsed = time.perf_counter() - self._work_since
        if elapsed < SLOW_S:
            return
        label, done, total = self._said
        count = f" {done}/{total}" if total > 1 else ""
        verdict = self.query_one(Verdict)  # the previous verdict, dimmed under the progress
        verdict.progress = f"computing{': ' + label if label else ''}{count} · {elapsed:.1f} s"
        verdict.stale = verdict.frame is not None
        verdict.refresh(layout=True)
        bars = self.query_one(Bars)
        if self._key_at is not None and not bars.stale:  # its new bars are not there yet
            bars.stale = True
            bars.refresh()

    @work(exclusive=True, thread=True, group="plane")
    def load_plane(self, activation: str) -> None:
        """The worker of the phase plane (cached per activation)."""
        self._from_thread(self._plane_ready, compute.plane(activation))

    def _plane_ready(self, plane: Plane) -> None:
        if plane.activation == self.play.settings.activation:
            view = self.query_one(PlaneView)
            view.plane = plane
            view.refresh()

    def say(self, message: str, severity: str = "information") -> None:
        """A note that fades (Textual's notification)."""
        self.notify(message, severity=severity, markup=False, timeout=3)  # type: ignore[arg-type]
