"""The Lightning and Hugging Face Trainer adapters (integrations/), tested with stand-ins: a
fake ``lightning.pytorch`` and ``transformers`` module whose Callback/TrainerCallback base class
and trainer loop call the same hooks, in the same order, as the real frameworks (neither is a
test dependency). The stand-in trainers step a torch optimizer, as the real ones do."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
import torch
from torch import nn

from percgrad.integrations.lightning import lightning_callback
from percgrad.integrations.transformers import trainer_callback


def _module(name: str, **attrs: Any) -> types.ModuleType:
    mod = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(mod, key, value)
    return mod


class _Callback:
    def __init__(self) -> None:
        pass


def _steps(model: nn.Module, n: int) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    for _ in range(n):
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_the_lightning_callback_watches_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    lightning = _module("lightning")
    monkeypatch.setitem(sys.modules, "lightning", lightning)
    monkeypatch.setitem(sys.modules, "lightning.pytorch", _module("lightning.pytorch",
                                                                  Callback=_Callback))
    callback = lightning_callback(every=2)
    assert isinstance(callback, _Callback)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    callback.on_fit_start(None, model)  # what Trainer.fit calls, in this order
    _steps(model, 5)
    callback.on_fit_end(None, model)
    report = callback.report
    assert report.steps == [0, 2, 4] and report.total_steps == 5
    assert [m.name for m in report.modules] == ["0", "2"]
    assert torch.Tensor.backward.__module__.startswith("torch")  # unhooked after fit


def test_the_trainer_callback_watches_train(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers",
                        _module("transformers", TrainerCallback=_Callback))
    callback = trainer_callback()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    callback.on_train_begin(None, None, None, model=model)
    _steps(model, 3)
    callback.on_train_end(None, None, None, model=model)
    assert callback.report.steps == [0, 1, 2]


def test_without_the_framework_the_adapter_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("lightning", "lightning.pytorch", "pytorch_lightning", "transformers"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails
    with pytest.raises(ImportError, match="pip install lightning"):
        lightning_callback()
    with pytest.raises(ImportError, match="pip install transformers"):
        trainer_callback()
