"""What ``watch`` shows (views/watch.py, views/watch_live.py): every module in the table at any
width, the verdicts and the loss; the live view small and quick; a real Recorder run shown."""

from __future__ import annotations

import io
import time

import pytest
import torch
from rich.console import Console
from torch import nn

from console_util import render
from percgrad.engines.watch.recorder import Recorder
from percgrad.reports.numbers import num
from percgrad.reports.watch import (
    ActivationTrack,
    ModuleTrack,
    NonFinite,
    WatchReport,
    WatchVerdict,
)
from percgrad.reports.watch_sentences import verdict_title
from percgrad.views.show import parts
from percgrad.views.watch import buckets, watch_renderables
from percgrad.views.watch_live import live_table

LONG = "encoder.layers.11.self_attn.out_proj"


def hand_report(n_modules: int = 4, n_steps: int = 30) -> WatchReport:
    """A run whose gradients blow up to NaN at step 20, built by hand."""
    steps = list(range(n_steps))
    names = ["0", "2", LONG, "4"] + [f"extra.{i}" for i in range(n_modules - 4)]
    mods = []
    for i, name in enumerate(names):
        grads: list[float | None] = [10.0 ** (i - 3) * (1 + k) if k < 20 else float("nan")
                                     for k in steps]
        ratios: list[float | None] = [1e-3 if k < 20 else None for k in steps]
        mods.append(ModuleTrack(name, "Linear", 10, [f"{name}.weight"], grads, [1.0] * n_steps,
                                ratios, True))
    shares: list[float | None] = [0.05 if k < 10 else 0.7 for k in steps]
    unseen: list[float | None] = [None] * n_steps
    acts = [ActivationTrack("1", "ReLU", "dead", shares),
            ActivationTrack("3", "Tanh", "saturated", unseen)]
    verdicts = [WatchVerdict("vanishing", 0, ["0", "2"], 0.004, threshold=0.1, through=19),
                WatchVerdict("dead", 10, ["1"], 0.7, before=0.05, threshold=0.5),
                WatchVerdict("non-finite", 20, [LONG])]
    nf = NonFinite(20, "backward", LONG, "Linear", "aten.log (LogBackward0)", "train.py:12",
                   "h = torch.log(x)", "-inf")
    loss: list[float | None] = [2.0 / (k + 1) if k < 20 else None for k in steps]
    return WatchReport("train.py", ["Net"], 1, steps, loss, mods, acts, verdicts, nf,
                       total_steps=n_steps, exit_code=1, timing={"run_s": 1.0, "recording_s": 0.1})


@pytest.mark.parametrize("width", [80, 140])
def test_every_module_verdict_and_the_loss_at_any_width(width: int) -> None:
    report = hand_report()
    text = render(report, width)  # rich.print(report) through views/show.py
    assert max(len(line) for line in text.splitlines()) <= width
    rows = {line.split()[0] for line in text.splitlines() if line.strip()}
    for m in report.modules:
        assert m.name in rows, m.name
        assert num(m.grad_norm[0], 3) in text
    assert {"1", "3"} <= rows  # the activations' rows
    assert "5% dead" in text and "70% dead" in text
    assert "over 30 steps" in text and "×" in text  # the sparklines, NaN steps marked
    for v in report.verdicts:
        assert verdict_title(v) in text.replace("\n  ", " ")
    flat = " ".join(text.split())
    assert "aten.log (LogBackward0)" in flat and "train.py:12" in flat
    assert "loss E 2 at step 0 → 0.1 at step 19; no finite loss at the 10 watched step(s) " \
           "from step 20" in flat
    assert "target train.py" in flat and "30 watched of 30 optimizer step(s)" in flat
    assert "the script's status 1" in flat


def test_last_update_ratio_says_its_step_and_shows_parts() -> None:
    report = hand_report()
    assert "0.001 @19" in render(watch_renderables(report), 140)
    assert len(parts(report)) == 1


def test_sparklines_share_characters_when_there_are_many_steps() -> None:
    assert buckets([1.0, None, 3.0], 24) != buckets([1.0, 2.0, 3.0], 24)
    many = buckets([float(k) for k in range(100)], 10)
    assert len(many) == 10 and many[-1] == 99.0
    report = hand_report(n_steps=100)
    assert "each character the largest of ~4.2 steps" in " ".join(render(report, 140).split())


def test_live_table_fits_and_marks_what_is_not_finite() -> None:
    report = hand_report()
    console = Console(width=80, file=io.StringIO(), record=True, highlight=False)
    console.print(live_table(report, 80))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "30 step(s), 30 watched" in text and "steps 18…29" in text
    assert "××" in text and "encoder" in text
    assert "DEAD at step 10: 1 (70%)" in text
    assert "NON-FINITE at step 20: backward, aten.log (LogBackward0) in encoder" in text
    assert "VANISHING" not in text  # it no longer holds (through step 19)


def test_live_table_is_quick_for_50_modules() -> None:
    report = hand_report(n_modules=50, n_steps=200)
    console = Console(width=120, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor")
    console.print(live_table(report, 120))  # warm up
    times = []
    for _ in range(10):
        start = time.perf_counter()
        console.print(live_table(report, 120))
        times.append(time.perf_counter() - start)
    # 2-3 ms on an idle core; loose here, since test machines are shared
    assert sorted(times)[len(times) // 2] < 0.025
    text = render(live_table(report, 120), 120)
    assert all(f"extra.{i}" in text for i in range(46))


def test_a_real_training_run() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(32, 4), torch.randn(32, 1)
    with Recorder([model], every=1) as r:
        for _ in range(5):
            loss = ((model(x) - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    report = r.report()
    assert report.steps == [0, 1, 2, 3, 4]
    for width in (80, 140):
        text = render(report, width)
        assert max(len(line) for line in text.splitlines()) <= width
        rows = {line.split()[0] for line in text.splitlines() if line.strip()}
        assert {"0", "2", "4", "1", "3"} <= rows
        assert "5 watched of 5 optimizer step(s) (every step)" in text
        assert f"loss E {num(report.loss[0])} at step 0 → {num(report.loss[-1])} at step 4" \
            in " ".join(text.split())
    assert render(live_table(report, 80), 80).count("\n") >= 5
