"""The diagnosis of real architectures (engines/diagnose.py): the trend over every weight layer
(one odd head does not decide it), frozen layers left out, dead only on a batch large enough,
every module named with its type, attention's own parameters counted, LM logits' class axis."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import percgrad


def _x(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _flat_body_tiny_head() -> nn.Module:
    torch.manual_seed(0)
    body: list[nn.Module] = []
    for _ in range(6):
        body += [nn.Linear(32, 32), nn.LayerNorm(32), nn.Tanh()]
    head = nn.Linear(32, 10)
    nn.init.normal_(head.weight, std=1e-3)  # SqueezeNet's head: the body's gradients all tiny
    return nn.Sequential(*body, head)


def test_one_odd_head_does_not_decide_the_flow() -> None:
    report = percgrad.inspect(_flat_body_tiny_head(), _x(64, 32), check="off")
    d = report.diagnosis
    norms = {m.name: m.grad_norm for m in report.modules}
    assert d.end_share is not None and d.end_share < d.vanishing  # the two ends say vanishing
    assert d.flow == "stable" and d.healthy  # the trend over all seven does not
    assert d.off_trend == ["18"]
    assert norms["18"] is not None and norms["18"] > 100 * (norms["0"] or 0.0)
    assert d.types["18"] == "Linear" and d.types["0"] == "Linear"


def test_a_steady_decay_is_vanishing_with_the_layers_on_the_trend() -> None:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(8):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    d = percgrad.inspect(nn.Sequential(*layers), _x(64, 32), check="off").diagnosis
    assert d.flow == "vanishing" and d.share is not None and d.share < d.vanishing
    assert d.concerned and d.concerned[0] == "0" and "14" not in d.concerned
    assert all(d.types[n] == "Linear" for n in d.concerned)


def test_a_frozen_first_layer_is_frozen_not_vanishing() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                          nn.Linear(32, 4))
    model[0].requires_grad_(False)
    report = percgrad.inspect(model, _x(32, 16), check="off")
    rows = {m.name: m for m in report.modules}
    assert rows["0"].frozen and not rows["0"].weight_layer
    assert report.diagnosis.weight_layers == ["2", "4"]
    assert report.diagnosis.flow == "stable"


def test_relu_units_are_called_dead_only_on_a_batch_large_enough() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(),
                          nn.Linear(4, 2))
    small = percgrad.inspect(model, _x(2, 16), check="off")
    assert small.diagnosis.batch == 2 and small.diagnosis.flow != "dead"
    assert any(n.kind == "small-batch" and n.value == 2 for n in small.notes)
    with torch.no_grad():
        model[2].bias.fill_(-100.0)  # the second ReLU is 0 on every unit, every sample
    large = percgrad.inspect(model, _x(64, 16), check="off")
    assert large.diagnosis.batch == 64 and large.diagnosis.flow == "dead"
    assert not any(n.kind == "small-batch" for n in large.notes)


class _Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Linear(8, 16)
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.enc(self.emb(x)).mean(1))


def test_attention_in_proj_is_a_weight_layer_in_forward_order() -> None:
    torch.manual_seed(0)
    report = percgrad.inspect(_Encoder(), _x(4, 5, 8), check="off")
    d = report.diagnosis
    layers = d.weight_layers
    assert layers[0] == "emb" and layers[-1] == "head"
    attn = "enc.layers.0.self_attn"
    assert attn in layers and layers.index(attn) < layers.index("enc.layers.0.linear1")
    assert d.types[attn] == "MultiheadAttention"
    assert d.mean_factor is not None and d.mean_factor > 0.1  # containers have no ‖∂E/∂out‖


class _LanguageModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.e = nn.Embedding(30, 16)
        self.l = nn.Linear(16, 30)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l(self.e(x))


def test_lm_logits_take_their_last_axis_as_classes() -> None:
    tokens = torch.randint(0, 30, (4, 7), generator=torch.Generator().manual_seed(2))
    targets = torch.randint(0, 30, (4, 7), generator=torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    model = _LanguageModel()
    with torch.no_grad():
        expected = nn.functional.cross_entropy(model(tokens).reshape(-1, 30), targets.reshape(-1))
    report = percgrad.inspect(model, tokens, targets=targets, loss="cross-entropy", check="off")
    assert report.loss == pytest.approx(float(expected), rel=1e-5)
    assert any(n.kind == "class-axis" and n.value == 2 for n in report.notes)
    random = percgrad.inspect(model, tokens, loss="cross-entropy", check="off")
    assert any(n.kind == "class-axis" and n.value == 2 for n in random.notes)
    with pytest.raises(percgrad.PercgradError, match="--targets"):
        percgrad.inspect(model, tokens, targets=targets, loss="cross-entropy", check="off",
                         class_dim=1)


@pytest.mark.parametrize("make", [_flat_body_tiny_head, _Encoder, _LanguageModel])
def test_every_module_the_diagnosis_names_has_its_type(make) -> None:
    torch.manual_seed(0)
    model = make()
    x = (torch.randint(0, 30, (4, 7)) if isinstance(model, _LanguageModel) else
         _x(4, 5, 8) if isinstance(model, _Encoder) else _x(64, 32))
    d = percgrad.inspect(model, x, check="off").diagnosis
    named = {*d.weight_layers, *d.concerned, *d.dead_layers, *d.off_trend,
             *(n for n in (d.first_nonfinite_forward, d.first_nonfinite_backward) if n)}
    assert named and named <= d.types.keys()
    assert all(d.types[n] == type(model.get_submodule(n)).__name__ for n in named)


def test_a_share_near_its_threshold_is_said_to_be_borderline() -> None:
    from percgrad.reports.user import Diagnosis
    from percgrad.reports.user_sentences import diagnosis_sentences

    near = Diagnosis([], "stable", 0.17, 0.1, 10.0, weight_layers=["e", "l"],
                     types={"e": "Embedding", "l": "Linear"})
    far = Diagnosis([], "stable", 0.9, 0.1, 10.0, weight_layers=["e", "l"],
                    types={"e": "Embedding", "l": "Linear"})
    assert near.borderline and not far.borderline
    assert "may well give the other verdict" in diagnosis_sentences(near)[0]
    assert "may well" not in diagnosis_sentences(far)[0]
