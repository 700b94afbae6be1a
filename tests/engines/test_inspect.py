"""The inspection of a user's model (engines/inspect.py, ``percgrad.inspect``): module by module,
the diagnosis by the rule of vanish, the gradient check on a float64 copy in eval mode and its
localisation to one module; the examples, dead, non-finite and nondeterministic models,
training and modes, and refusals as PercgradError."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import percgrad
from console_util import render
from functions_util import HalfSquare as BadSquare
from percgrad.errors import PercgradError

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"


# ---------------------------------------------------------------- the examples


def test_broken_backward_fails_and_names_the_planted_layer(broken):
    assert broken.failed
    loc = broken.localisation
    assert loc is not None and loc.module == "hidden" and loc.type == "LinearTanh"
    assert loc.checked == ["encoder", "hidden", "head"]
    own = {m.name: m.local for m in broken.modules}
    assert own["encoder"].passed and own["head"].passed
    assert own["hidden"].passed is False and own["hidden"].max_rel_error > 0.1
    # the head's parameters are upstream of the mistake: their whole-model check passes
    by = {g.name: g for g in broken.check.groups}
    assert by["head.weight"].passed and by["head.bias"].passed
    assert by["hidden.weight"].passed is False and by["encoder.weight"].passed is False
    worst = loc.check.worst.worst
    assert worst.name.startswith("hidden.")


def test_deep_sigmoid_is_vanishing_with_its_layers_named(deep):
    d = deep.diagnosis
    assert d.kinds == ["vanishing"] and d.flow == "vanishing"
    assert d.weight_layers == [f"fc{k}" for k in range(1, 11)]
    assert d.concerned[0] == "fc1" and "fc10" not in d.concerned
    norms = {m.name: m.grad_norm for m in deep.modules}
    assert d.end_share == pytest.approx(norms["fc1"] / norms["fc10"])
    assert d.share is not None and d.share < d.vanishing  # the trend's share agrees
    assert all(norms[n] / norms["fc10"] < d.vanishing for n in d.concerned)
    assert deep.check.passed and deep.check.method == "fast"
    text = render(deep, 100)
    assert "VANISHING" in text and "fc1" in text


def test_nan_layer_names_its_module(nan_report):
    d = nan_report.diagnosis
    assert d.kinds == ["non-finite"]
    assert d.first_nonfinite_forward == "logf"
    assert not d.forward_input_nonfinite
    assert nan_report.check.passed is None and nan_report.check.reason == "nonfinite"
    assert not nan_report.failed
    assert "logf" in render(nan_report, 80)


def test_small_cnn_is_healthy_and_passes_in_eval_mode():
    report = percgrad.inspect(f"{EX / 'small_cnn.py'}:build", input_shape="8,1,8,8",
                              loss="cross-entropy")
    assert report.check.passed is True and report.check.method == "full"
    assert report.diagnosis.healthy
    assert any(n.kind == "eval-copy" for n in report.notes)
    assert report.settings["mode"] == "train"
    names = [m.name for m in report.modules]
    assert names[:3] == ["conv1", "bn1", "relu1"] and "drop" in names


# ---------------------------------------------------------------- findings


class Dead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(8, 2)
        with torch.no_grad():
            self.fc1.bias.fill_(-100.0)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.relu(self.fc1(x)))


def test_a_dead_relu_layer_is_named():
    torch.manual_seed(0)
    report = percgrad.inspect(Dead(), torch.randn(16, 6))
    assert report.diagnosis.kinds == ["dead"] and report.diagnosis.dead_layers == ["fc1"]
    relu = next(m for m in report.modules if m.name == "relu")
    assert relu.dead == 1.0


class SqrtFeatures(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return torch.sqrt(x * x)  # |x|, whose backward at 0 is ∞ · 0 = NaN


def test_a_backward_only_nan_is_located_in_backward_order():
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(fc=nn.Linear(4, 4), root=SqrtFeatures(), out=nn.Linear(4, 1)))
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.zero_()  # every input to the square root is exactly 0
    report = percgrad.inspect(model, torch.randn(3, 4))
    d = report.diagnosis
    assert d.first_nonfinite_forward is None
    assert d.first_nonfinite_backward == "root"
    assert not d.backward_from_loss


class AlwaysDropout(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5, 3)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(self.fc(x), 0.5, training=True)


def test_a_nondeterministic_model_gets_a_message_not_a_failure():
    report = percgrad.inspect(AlwaysDropout(), torch.randn(4, 5))
    assert report.check.passed is None and report.check.reason == "nondeterministic"
    assert not report.failed
    assert "not deterministic" in render(report, 100)


class Block(nn.Module):
    """A container whose own forward calls a wrong Function between two right submodules."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.b(BadSquare.apply(self.a(x)))


def test_a_mistake_in_a_containers_own_code_is_localised_to_it():
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(pre=nn.Linear(3, 4), block=Block()))
    report = percgrad.inspect(model, torch.randn(5, 3))
    assert report.failed
    loc = report.localisation
    assert loc is not None and loc.module == "block" and loc.container
    assert {"pre", "block.a", "block.b"} <= set(loc.checked)


def test_steps_record_every_module_over_training():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    x, t = torch.randn(16, 4), torch.randn(16, 1)
    report = percgrad.inspect(model, x, targets=t, steps=5, lr=0.1, check="off")
    assert report.history is not None and [h.step for h in report.history] == list(range(6))
    assert report.history[-1].loss < report.history[0].loss
    assert report.settings["loss"] == "mse"
    assert model[0].weight.grad is None, "the user's model is not touched"


def test_train_and_eval_modes():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 1))
    ev = percgrad.inspect(model, torch.randn(8, 4), train=False, check="off")
    again = percgrad.inspect(model, torch.randn(8, 4), train=False, check="off")
    assert ev.settings["mode"] == "eval"
    assert ev.modules[1].output_grad_norm is not None
    assert ev.to_dict()["modules"] != [] and again.settings["mode"] == "eval"


def test_api_errors_are_percgrad_errors():
    with pytest.raises(PercgradError) as err:
        percgrad.inspect(nn.Linear(2, 2))
    assert err.value.option == "--input-shape"
    with pytest.raises(PercgradError) as err:
        percgrad.inspect(3, torch.zeros(1, 2))
    assert err.value.option == "TARGET"


# ---------------------------------------------------------------- the engine itself


def test_inspect_model_takes_its_options_and_refuses_bad_ones():
    from percgrad.engines.inspect import InspectOptions, inspect_model

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    report = inspect_model(model, [torch.randn(6, 3)], options=InspectOptions(check="full", device="cpu"))
    assert [m.name for m in report.modules] == ["0", "1", "2"]
    assert report.check.method == "full" and report.check.passed is True
    assert report.settings["loss"] == "sum"  # no targets: E = Σ output
    for options, option in ((InspectOptions(steps=-1), "--steps"),
                            (InspectOptions(steps=2, lr=0.0), "--lr")):
        with pytest.raises(PercgradError) as err:
            inspect_model(model, [torch.randn(6, 3)], options=options)
        assert err.value.option == option
