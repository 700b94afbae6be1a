"""inspect on models built from torch.nn: sparse gradients, bfloat16 and float16, batch norm in
train mode, in-place operations, the user's model and inputs left as they were, token ids given
as floats, and a list of layers that must each end in a report (issue 16)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

import percgrad
from cli_util import invoke
from percgrad.errors import PercgradError
from percgrad.reports.user import InspectReport
from percgrad.spec import check as judge

pytestmark = pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")


def _norms(report: InspectReport) -> dict[str, float]:
    """Each module's ‖∂E/∂W‖, for the modules with parameters."""
    return {m.name: m.grad_norm for m in report.modules if m.grad_norm is not None}


class SparseEmb(nn.Module):
    def __init__(self, sparse: bool = True) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.e = nn.Embedding(50, 8, sparse=sparse)
        self.h = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.h(self.e(x).mean(1))


def test_a_sparse_embedding_has_the_norms_of_a_dense_one() -> None:
    sparse = percgrad.inspect(SparseEmb(), input_shape="4,5:long", loss="sum", check="off", steps=2)
    dense = percgrad.inspect(SparseEmb(False), input_shape="4,5:long", loss="sum", check="off",
                             steps=2)
    assert _norms(sparse) == pytest.approx(_norms(dense), rel=1e-9)
    assert sparse.modules[0].weight_layer and all(m.finite_backward for m in sparse.modules)
    assert sparse.history is not None and len(sparse.history) == 3  # SGD steps on a sparse .grad
    assert [h.loss for h in sparse.history] == pytest.approx([h.loss for h in dense.history])


def test_a_sparse_embedding_is_checked() -> None:
    report = percgrad.inspect(SparseEmb(), input_shape="4,5:long", loss="sum")
    assert report.check.passed is True


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_coarse_dtype_is_measured_in_its_dtype_and_checked_in_float64(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    wide = percgrad.inspect(copy.deepcopy(model).double(), input_shape="4,8", loss="sum")
    report = percgrad.inspect(model.to(dtype), input_shape="4,8", loss="sum")
    assert report.settings["dtype"] == str(dtype).removeprefix("torch.")
    # the table's norms are the coarse dtype's own, within its rounding of the float64 ones
    assert _norms(report) == pytest.approx(_norms(wide), rel=8 * torch.finfo(dtype).eps)
    assert report.loss == pytest.approx(wide.loss, rel=8 * torch.finfo(dtype).eps, abs=0.05)
    assert report.check.passed is True and report.check.tolerance == judge.tolerance("float64", None)
    assert "constant-loss" not in report.diagnosis.kinds
    assert [n.kind for n in report.notes] == ["eval-copy"]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_constant_loss_is_found_in_a_coarse_dtype(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 5), nn.Softmax(-1)).to(dtype)
    report = percgrad.inspect(model, input_shape="4,8", loss="sum")
    assert report.diagnosis.kinds == ["constant-loss"] and report.diagnosis.cause == "softmax-sum"
    assert report.check.passed is None and report.check.reason == "constant-loss"


def test_a_bfloat16_loss_that_depends_on_the_weights_is_not_constant() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3)).to(torch.bfloat16)
    report = percgrad.inspect(model, input_shape="4,8", loss="mse")
    assert "constant-loss" not in report.diagnosis.kinds and report.check.passed is True


def _bn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 2))


@pytest.mark.parametrize("train", [True, False])
def test_batch_norm_leaves_the_users_model_as_it_was(train: bool) -> None:
    model = _bn()
    before = copy.deepcopy(model.state_dict())
    report = percgrad.inspect(model, input_shape="2,3,6,6", train=train, steps=2, loss="mse")
    assert report.settings["mode"] == ("train" if train else "eval")
    assert report.check.passed is True and "eval-copy" in [n.kind for n in report.notes]
    after = model.state_dict()
    assert list(after) == list(before) and all(torch.equal(after[k], before[k]) for k in before)
    assert model.training and model[2].inplace  # its mode and its in-place ReLU too
    assert all(p.grad is None for p in model.parameters())


class Residual(nn.Module):
    """``out += x`` on a module's output, then an in-place ReLU module."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(6, 6)
        self.act = nn.ReLU(inplace=True)
        self.b = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.a(x)
        out += x
        return self.b(self.act(out))


class InPlace(nn.Module):
    """Tensor methods in place on a module's output."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(6, 6)
        self.b = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.a(x)
        h.add_(0.5)
        return self.b(torch.relu_(h))


def _output_grad(model: Residual | InPlace, x: torch.Tensor) -> float:
    """‖∂E/∂(a's output)‖ with E = Σ output, out of place."""
    h = model.a(x)
    h.retain_grad()
    rest = h + x if isinstance(model, Residual) else h + 0.5
    model.b(torch.relu(rest)).sum().backward()
    assert h.grad is not None
    return float(h.grad.norm())


@pytest.mark.parametrize("build", [Residual, InPlace])
def test_in_place_operations_keep_the_hooks_right(
        build: Callable[[], Residual | InPlace]) -> None:
    torch.manual_seed(0)
    model = build()
    x = torch.randn(5, 6)
    report = percgrad.inspect(model, x, loss="sum")
    rows = {m.name: m for m in report.modules}
    assert rows["a"].output_grad_norm == pytest.approx(_output_grad(copy.deepcopy(model), x))
    assert report.check.passed is True and report.diagnosis.first_nonfinite_backward is None


class AddsOne(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.add_(1.0)
        return self.a(x)


def test_a_forward_that_changes_its_input_leaves_the_users_tensor_alone() -> None:
    model, x = AddsOne(), torch.randn(3, 4)
    before = x.clone()
    report = percgrad.inspect(model, x, loss="sum", steps=1, check="off")
    assert torch.equal(x, before)
    with torch.no_grad():
        assert report.loss == pytest.approx(float(model.a(before + 1.0).sum()), rel=1e-6)


def test_a_forward_that_changes_its_input_is_checked() -> None:
    report = percgrad.inspect(AddsOne(), torch.randn(3, 4), loss="sum")
    assert report.check.passed is True


@pytest.mark.parametrize("layer", [nn.Embedding(10, 4), nn.EmbeddingBag(10, 4)])
def test_float_inputs_to_an_embedding_are_refused_with_the_long_shape(layer: nn.Module) -> None:
    model = nn.Sequential(layer, nn.Linear(4, 2))
    with pytest.raises(PercgradError) as err:
        percgrad.inspect(model, input_shape="4,5")
    assert err.value.option == "--input-shape" and "4,5:long" in err.value.message
    report = percgrad.inspect(model, input_shape="4,5:long", check="off")  # ids drawn in [0, 10)
    assert report.input_shapes == [(4, 5)]


MODELS_PY = """
import torch
from torch import nn
class SparseEmb(nn.Module):
    def __init__(self):
        super().__init__(); self.e = nn.Embedding(50, 8, sparse=True); self.h = nn.Linear(8, 3)
    def forward(self, x): return self.h(self.e(x).mean(1))
"""


def test_the_issues_examples_exit_0_and_2_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "models.py").write_text(MODELS_PY)
    target = f"{tmp_path / 'models.py'}:SparseEmb"
    ran = invoke("inspect", target, "--input-shape", "4,5:long", "--check", "off", "--json")
    assert ran.exit_code == 0, ran.output
    refused = invoke("inspect", target, "--input-shape", "4,5", "--json")
    assert refused.exit_code == 2 and "--input-shape" in refused.output


class Recurrent(nn.Module):
    def __init__(self, cell: type[nn.Module]) -> None:
        super().__init__()
        self.r = cell(3, 4, batch_first=True)
        self.h = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.r(x)
        return self.h(out[:, -1])


class Bags(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.e = nn.Embedding(12, 4)
        self.b = nn.EmbeddingBag(12, 4, mode="mean")
        self.h = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.h(self.e(x).mean(1) + self.b(x))


class Pair(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.b = nn.Bilinear(4, 4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(x, x.flip(-1))


class Heads(nn.Module):
    def __init__(self, as_dict: bool) -> None:
        super().__init__()
        self.as_dict = as_dict
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> object:
        a, b = self.a(x), self.b(x)
        return {"logits": a, "aux": b} if self.as_dict else (a, b)


def _encoder() -> nn.Module:
    layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.1, batch_first=True)
    return nn.Sequential(nn.TransformerEncoder(layer, 1, enable_nested_tensor=False),
                         nn.Flatten(), nn.Linear(12, 2))


LAYERS: dict[str, tuple[Callable[[], nn.Module], str]] = {
    # name: (model, --input-shape)
    "lstm": (lambda: Recurrent(nn.LSTM), "2,3,3"),
    "gru": (lambda: Recurrent(nn.GRU), "2,3,3"),
    "transformer-encoder": (_encoder, "2,3,4"),
    "conv1d": (lambda: nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU(), nn.Flatten(),
                                     nn.Linear(3 * 4, 2)), "3,2,6"),
    "conv2d": (lambda: nn.Sequential(nn.Conv2d(2, 3, 3), nn.Tanh(), nn.Flatten(),
                                     nn.Linear(3 * 4, 2)), "3,2,4,4"),
    "conv-transpose2d": (lambda: nn.Sequential(nn.ConvTranspose2d(2, 2, 3, stride=2),
                                               nn.Flatten(), nn.Linear(2 * 5 * 5, 2)),
                         "2,2,2,2"),
    "group-norm": (lambda: nn.Sequential(nn.Conv2d(2, 4, 3), nn.GroupNorm(2, 4), nn.Flatten(),
                                         nn.Linear(4 * 4, 2)), "3,2,4,4"),
    "instance-norm": (lambda: nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
        nn.Flatten(), nn.Linear(3 * 4, 2)), "3,2,4,4"),
    "dropout": (lambda: nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.5),
                                      nn.Linear(6, 2)), "4,4"),
    "embedding-bag": (Bags, "3,4:long"),
    "prelu": (lambda: nn.Sequential(nn.Linear(4, 5), nn.PReLU(), nn.Linear(5, 2)), "4,4"),
    "bilinear": (Pair, "3,4"),
    "tuple-output": (lambda: Heads(False), "3,4"),
    "dict-output": (lambda: Heads(True), "3,4"),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_torch_nn_model_ends_in_a_report(name: str) -> None:
    build, shape = LAYERS[name]
    torch.manual_seed(0)
    model = build()
    before = copy.deepcopy(model.state_dict())
    report = percgrad.inspect(model, input_shape=shape, steps=1, loss="mse")
    assert isinstance(report, InspectReport) and report.history is not None
    assert report.check.passed is True, (report.check.reason, report.check.detail)
    trained = [m for m in report.modules if m.params and not m.frozen]
    assert trained and all(m.grad_norm is not None for m in trained if not m.unused)
    assert all(m.finite_forward and m.finite_backward for m in report.modules)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
    kinds = [n.kind for n in report.notes]
    if name.endswith("-output"):  # the loss of the first output: the other head gets none
        assert "first-output" in kinds and "unused" in kinds
    if name == "prelu":  # a parameter inside an activation has its own row
        assert {m.name: m.params for m in report.modules}["1"] == 1
