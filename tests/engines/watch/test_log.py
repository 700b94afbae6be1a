"""--log and --replay (engines/watch/log.py): a run written line by line reads back as the same
report; a file that is not a watch log is refused, naming --replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import percgrad
from percgrad.engines.watch.log import StepLog, replay
from percgrad.engines.watch.recorder import Recorder


def _logged_run(path: Path, model: nn.Module, steps: int, lr: float) -> Recorder:
    """``steps`` SGD steps of ``model`` on one batch under percgrad.watch, each recorded step
    written to ``path`` as --log does (after the step), the log finished."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x = torch.randn(16, 4)
    log = StepLog(path, "test", 1)
    with percgrad.watch(model) as w:
        for _ in range(steps):
            loss = model(x).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            modules, acts = w.tracks()
            log.write(["Sequential"], modules, acts, w.steps, w.loss)
    log.finish(w.report())
    return w


def test_a_logged_run_replays_as_the_same_report(tmp_path: Path) -> None:
    torch.manual_seed(0)
    w = _logged_run(tmp_path / "run.jsonl", nn.Sequential(nn.Linear(4, 8), nn.ReLU(),
                                                          nn.Linear(8, 1)), 4, 0.1)
    report = w.report()
    again = replay(tmp_path / "run.jsonl")
    assert again.steps == report.steps and again.loss == pytest.approx(report.loss)
    assert [m.name for m in again.modules] == [m.name for m in report.modules]
    for a, b in zip(again.modules, report.modules):
        assert a.grad_norm == pytest.approx(b.grad_norm)
        assert a.update_ratio == pytest.approx(b.update_ratio)
    assert [a.share for a in again.activations] == [a.share for a in report.activations]
    assert again.total_steps == 4 and again.verdicts == report.verdicts


@pytest.mark.parametrize("text", ["", "not json\n", '{"step": 0}\n', '{"format": "other"}\n'])
def test_what_is_not_a_watch_log_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(percgrad.PercgradError, match="--replay"):
        replay(path)


def test_a_thinned_run_logs_every_step_it_recorded_once(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from percgrad.engines.watch import recorder

    monkeypatch.setattr(recorder, "KEPT", 6)
    torch.manual_seed(0)
    w = _logged_run(tmp_path / "run.jsonl", nn.Sequential(nn.Linear(4, 8), nn.Tanh(),
                                                          nn.Linear(8, 1)), 30, 0.05)
    lines = (tmp_path / "run.jsonl").read_text().splitlines()
    logged = [json.loads(t)["step"] for t in lines if '"step"' in t and '"end"' not in t]
    assert logged == sorted(set(logged)) and logged[:6] == [0, 1, 2, 3, 4, 5]
    assert set(w.report().steps) <= set(logged)  # the kept steps are among those logged
