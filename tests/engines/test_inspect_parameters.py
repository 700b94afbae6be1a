"""Every parameter of the model in exactly one row of inspect: on the module that registers it
(containers and the root included), tied ones once, frozen and unused ones marked and left out
of the flow diagnosis."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from percgrad.engines.inspect import InspectOptions, inspect_model
from percgrad.reports.user import InspectReport, ModuleStats

OFF = InspectOptions(check="off")


def _rows(report: InspectReport) -> dict[str, ModuleStats]:
    return {m.name: m for m in report.modules}


def _every_parameter_once(model: nn.Module, report: InspectReport) -> None:
    held = [n for m in report.modules for n in m.parameters]
    assert len(held) == len(set(held))
    assert sorted(held) == sorted(dict(model.named_parameters()))
    assert sum(m.params for m in report.modules) == report.params == sum(
        p.numel() for p in model.parameters())


def test_a_transformer_encoders_attention_weights_get_a_row() -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    model = nn.Sequential(nn.TransformerEncoder(layer, 2, enable_nested_tensor=False),
                          nn.Flatten(), nn.Linear(8 * 16, 3))
    report = inspect_model(model, [torch.randn(4, 8, 16)], options=OFF)
    rows = _rows(report)
    attn = rows["0.layers.0.self_attn"]
    assert attn.type == "MultiheadAttention"
    assert attn.parameters == ["0.layers.0.self_attn.in_proj_weight",
                               "0.layers.0.self_attn.in_proj_bias"]
    assert attn.params == 3 * 16 * 16 + 3 * 16
    assert attn.grad_norm is not None and attn.grad_norm > 0
    assert "0.layers.1.self_attn" in rows
    _every_parameter_once(model, report)
    doc = report.to_dict()
    assert doc["schema"] == 3
    by_name = {m["name"]: m for m in doc["modules"]}
    assert by_name["0.layers.0.self_attn"]["parameters"][0].endswith("in_proj_weight")


class _Cls(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, 16))
        self.proj = nn.Linear(16, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), self.proj(x)], dim=1)
        return self.head(x[:, 0] + x[:, 1:].mean(dim=1))


def test_a_parameter_on_the_root_gets_the_roots_row() -> None:
    torch.manual_seed(0)
    model = _Cls()
    report = inspect_model(model, [torch.randn(4, 8, 16)], options=OFF)
    root = report.modules[0]
    assert root.name == "(model)" and root.type == "_Cls"
    assert root.parameters == ["cls_token"] and root.params == 16
    assert root.grad_norm is not None and root.grad_norm > 0
    assert not root.weight_layer
    assert root.name not in report.diagnosis.weight_layers
    _every_parameter_once(model, report)


class _Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.mix = nn.Linear(8, 8)
        self.lm_head = nn.Linear(8, 10, bias=False)
        self.lm_head.weight = self.embed.weight

    def forward(self, x: Tensor) -> Tensor:
        return self.lm_head(torch.tanh(self.mix(self.embed(x)))).mean(dim=1)


def test_tied_weights_are_shown_once_with_all_their_names() -> None:
    torch.manual_seed(0)
    model = _Tied()
    report = inspect_model(model, [torch.randint(0, 10, (4, 5))], options=OFF)
    rows = _rows(report)
    assert rows["embed"].parameters == ["embed.weight"]
    assert rows["embed"].also == ["lm_head.weight"]
    assert rows["embed"].params == 80
    # the gradient counts both uses: it is the parameter's own .grad
    assert "lm_head" not in rows or rows["lm_head"].params == 0
    assert report.params == 80 + 72
    _every_parameter_once(model, report)
    doc = report.to_dict()
    embed = next(m for m in doc["modules"] if m["name"] == "embed")
    assert embed["also"] == ["lm_head.weight"]


def test_the_tied_gradient_counts_every_use() -> None:
    torch.manual_seed(0)
    model = _Tied()
    x = torch.randint(0, 10, (4, 5))
    report = inspect_model(model, [x], options=InspectOptions(check="off", loss="sum"))
    model.zero_grad()
    model(x).sum().backward()
    grad = model.embed.weight.grad
    assert grad is not None
    assert abs(_rows(report)["embed"].grad_norm - float(grad.norm())) < 1e-4 * float(grad.norm())


def _frozen_first() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                          nn.Linear(16, 3))
    for p in model[0].parameters():
        p.requires_grad_(False)
    return model


def test_a_frozen_first_layer_is_marked_and_left_out_of_the_diagnosis() -> None:
    model = _frozen_first()
    report = inspect_model(model, [torch.randn(32, 8)], options=OFF)
    rows = _rows(report)
    assert rows["0"].frozen and rows["0"].grad_norm is None and not rows["0"].weight_layer
    assert rows["0"].params == 8 * 16 + 16
    assert not rows["2"].frozen and rows["2"].weight_layer
    assert report.diagnosis.weight_layers == ["2", "4"]
    assert "vanishing" not in report.diagnosis.kinds
    assert "0" not in report.diagnosis.concerned
    doc = report.to_dict()
    assert next(m for m in doc["modules"] if m["name"] == "0")["frozen"] is True
    _every_parameter_once(model, report)


class _Unused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(8, 16)
        self.b = nn.Linear(16, 3)
        self.spare = nn.Linear(16, 16)

    def forward(self, x: Tensor) -> Tensor:
        return self.b(torch.tanh(self.a(x)))


def test_an_unused_linear_is_named_and_left_out_of_the_diagnosis() -> None:
    torch.manual_seed(0)
    model = _Unused()
    report = inspect_model(model, [torch.randn(16, 8)], options=OFF)
    rows = _rows(report)
    spare = rows["spare"]
    assert spare.unused == ["spare.weight", "spare.bias"]
    assert spare.grad_norm is None and not spare.ran and not spare.frozen
    assert not spare.weight_layer
    assert report.diagnosis.weight_layers == ["a", "b"]
    note = next(n for n in report.notes if n.kind == "unused")
    assert note.modules == ("spare.weight", "spare.bias")
    doc = report.to_dict()
    assert {"kind": "unused", "modules": ["spare.weight", "spare.bias"], "value": None,
            "text": ""} in doc["note_records"]
    _every_parameter_once(model, report)
