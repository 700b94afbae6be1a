"""`percgrad inspect`: the user's model module by module, the diagnosis by the rule of vanish,
the gradient check on a float64 copy in eval mode and its localisation to one module; every
input format, every refusal, and output that fits 80 and 60 columns."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from rich.console import Console
from torch import Tensor, nn
from typer.testing import CliRunner

import percgrad
from percgrad.cli.app import app
from percgrad.errors import PercgradError
from percgrad.reports.numbers import num
from percgrad.views.check import check_renderables
from percgrad.views.inspect import inspect_renderables

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def render(report: object, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, highlight=False)
    console.print(report)
    return console.export_text()


@pytest.fixture(scope="module")
def broken() -> percgrad.reports.user.InspectReport:  # type: ignore[name-defined]
    torch.set_num_threads(1)
    return percgrad.inspect(f"{EX / 'broken_backward.py'}:build", input_shape="8,16")


@pytest.fixture(scope="module")
def deep() -> object:
    torch.set_num_threads(1)
    return percgrad.inspect(f"{EX / 'deep_sigmoid.py'}:build", input_shape="32,64")


@pytest.fixture(scope="module")
def nan_report() -> object:
    return percgrad.inspect(f"{EX / 'nan_layer.py'}:build", input_shape="8,16")


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


def test_broken_backward_cli_exits_1_and_says_where():
    result = invoke("inspect", f"{EX / 'broken_backward.py'}:build", "--input-shape", "8,16")
    assert result.exit_code == 1, result.output
    out = " ".join(result.stdout.split())  # the words, however the lines wrap
    assert "FAIL" in out and "localised: hidden (LinearTanh)" in out
    assert "The first module whose own backward is wrong: hidden" in out


def test_deep_sigmoid_is_vanishing_with_its_layers_named(deep):
    d = deep.diagnosis
    assert d.kinds == ["vanishing"] and d.flow == "vanishing"
    assert d.weight_layers == [f"fc{k}" for k in range(1, 11)]
    assert d.concerned[0] == "fc1" and "fc10" not in d.concerned
    norms = {m.name: m.grad_norm for m in deep.modules}
    assert d.share == pytest.approx(norms["fc1"] / norms["fc10"])
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


class BadSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return g * x  # should be 2x


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


# ---------------------------------------------------------------- inputs and targets


@pytest.fixture()
def mlp_file(tmp_path: Path) -> Path:
    src = tmp_path / "mlp.py"
    src.write_text(
        "import torch\nfrom torch import nn\n\n"
        "def build():\n    torch.manual_seed(0)\n"
        "    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))\n\n"
        "MODEL = build()\n\nclass Needs(nn.Module):\n    def __init__(self, width):\n"
        "        super().__init__()\n\nNOT_A_MODEL = 3\n\ndef returns_int():\n    return 1\n"
    )
    return src


def _run(*args: object):
    return invoke("inspect", *args, "--check", "off", "--json")


def test_every_input_format(tmp_path, mlp_file):
    target = f"{mlp_file}:build"
    x = np.random.default_rng(0).standard_normal((4, 3))
    y = np.random.default_rng(1).standard_normal((4, 2))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    torch.save(torch.from_numpy(x), tmp_path / "x.pt")
    torch.save({"inputs": torch.from_numpy(x), "targets": torch.from_numpy(y)}, tmp_path / "d.pt")
    torch.save((torch.from_numpy(x), torch.from_numpy(y)), tmp_path / "t.pt")
    rows = ["a,b,c,label"] + [",".join(f"{v:.6f}" for v in (*r, float(i % 2)))
                              for i, r in enumerate(x)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "y.csv").write_text("p,q\n" + "\n".join(f"{a},{b}" for a, b in y) + "\n")
    cases = [
        (["--input-shape", "4,3"], "sum", None),
        (["--data", tmp_path / "x.npy"], "sum", None),
        (["--data", tmp_path / "x.npy", "--targets", tmp_path / "y.npy"], "mse", "file"),
        (["--data", tmp_path / "xy.npz"], "mse", "file"),
        (["--data", tmp_path / "x.pt", "--targets", tmp_path / "y.csv"], "mse", "file"),
        (["--data", tmp_path / "d.pt"], "mse", "file"),
        (["--data", tmp_path / "t.pt"], "mse", "file"),
        (["--data", tmp_path / "d.csv", "--target-column", "label", "--loss", "cross-entropy"],
         "cross-entropy", "file"),
    ]
    for args, loss, targets in cases:
        result = _run(target, *args)
        assert result.exit_code == 0, (args, result.output)
        doc = json.loads(result.stdout)
        assert doc["input_shapes"] == [[4, 3]], args
        assert doc["settings"]["loss"] == loss, args
        assert doc["settings"]["targets"] == targets, args
    # the targets really are used: mse from the file equals mse computed here
    doc = json.loads(_run(target, "--data", tmp_path / "xy.npz").stdout)
    from percgrad.engines.user_code import resolve_module

    m = resolve_module(target)
    with torch.no_grad():
        expected = float(F.mse_loss(m(torch.from_numpy(x).float()), torch.from_numpy(y).float()))
    assert doc["loss"] == pytest.approx(expected, rel=1e-6)


def test_state_dict_is_loaded(tmp_path, mlp_file):
    from percgrad.engines.user_code import resolve_module

    model = resolve_module(f"{mlp_file}:build")
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.25)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    doc = json.loads(_run(f"{mlp_file}:build", "--input-shape", "2,3", "--state-dict",
                          tmp_path / "w.pt").stdout)
    first = doc["modules"][0]
    assert first["weight_norm"] == pytest.approx(0.25 * (15 + 5) ** 0.5)


def test_model_instance_and_class_targets(mlp_file):
    for name in ("MODEL", "build"):
        assert _run(f"{mlp_file}:{name}", "--input-shape", "2,3").exit_code == 0


class Opaque:
    """A class that needs pickle to load."""


@pytest.mark.parametrize(("make", "args", "option", "words"), [
    (None, ["{m}:nope", "--input-shape", "2,3"], "TARGET", "has no attribute 'nope'"),
    (None, ["{m}:NOT_A_MODEL", "--input-shape", "2,3"], "TARGET", "not an nn.Module"),
    (None, ["{m}:returns_int", "--input-shape", "2,3"], "TARGET", "returned a int"),
    (None, ["{m}:Needs", "--input-shape", "2,3"], "TARGET", "with no arguments failed"),
    (None, ["{m}:build", "--input-shape", "2,4"], "TARGET", "forward pass on input of shape"),
    (None, ["{m}:build"], "--input-shape", "give --input-shape"),
    (None, ["{m}:build", "--input-shape", "2,x"], "--input-shape", "not a whole number"),
    ("x", ["{m}:build", "--input-shape", "2,3", "--data", "{t}/x.npy"], "--data", "not both"),
    (None, ["{m}:build", "--data", "{t}/none.npy"], "--data", "no such file"),
    ("x", ["{m}:build", "--data", "{t}/x.txt"], "--data", "must end in"),
    ("obj", ["{m}:build", "--data", "{t}/obj.npy"], "--data", "needs pickle"),
    ("objz", ["{m}:build", "--data", "{t}/obj.npz"], "--data", "needs pickle"),
    ("pt", ["{m}:build", "--data", "{t}/obj.pt"], "--data", "needs pickle"),
    ("pt", ["{m}:build", "--input-shape", "2,3", "--state-dict", "{t}/obj.pt"], "--state-dict",
     "needs pickle"),
    ("sd", ["{m}:build", "--input-shape", "2,3", "--state-dict", "{t}/sd.pt"], "--state-dict",
     "does not fit the model"),
    ("csv", ["{m}:build", "--data", "{t}/noheader.csv"], "--data", "no header row"),
    ("csv", ["{m}:build", "--data", "{t}/word.csv"], "--data", "is not a number"),
    ("csv", ["{m}:build", "--data", "{t}/d.csv", "--target-column", "zz"], "--target-column",
     "is not a column"),
    ("x", ["{m}:build", "--data", "{t}/x.npy", "--target-column", "a"], "--target-column",
     "applies to .csv data only"),
    ("x", ["{m}:build", "--input-shape", "2,3", "--targets", "{t}/y3.npy"], "--targets",
     "target value(s) for"),
    (None, ["{m}:build", "--input-shape", "2,3", "--loss", "hinge"], "--loss", "not one of"),
    (None, ["{m}:build", "--input-shape", "2,3", "--steps", "-1"], "--steps", "whole number"),
    ("x", ["{m}:build", "--input-shape", "2,3", "--targets", "{t}/cls.npy", "--loss",
           "cross-entropy"], "--targets", "class indices must lie"),
])
def test_refusals_name_the_option(tmp_path, mlp_file, make, args, option, words):
    np.save(tmp_path / "x.npy", np.zeros((2, 3)))
    (tmp_path / "x.txt").write_text("1 2 3\n")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    torch.save({"x": Opaque()}, tmp_path / "obj.pt")
    torch.save({"other.weight": torch.zeros(2)}, tmp_path / "sd.pt")
    (tmp_path / "noheader.csv").write_text("1,2,3\n4,5,6\n")
    (tmp_path / "word.csv").write_text("a,b,c\n1,two,3\n")
    (tmp_path / "d.csv").write_text("a,b,c\n1,2,3\n")
    np.save(tmp_path / "y3.npy", np.zeros(3))
    np.save(tmp_path / "cls.npy", np.array([0, 7]))
    final = [a.replace("{m}", str(mlp_file)).replace("{t}", str(tmp_path)) for a in args]
    result = invoke("inspect", *final)
    assert result.exit_code == 2, result.output
    assert f"Error: {option}:" in result.stderr, result.stderr
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_pickle_refusal_says_why(tmp_path, mlp_file):
    torch.save({"x": Opaque()}, tmp_path / "obj.pt")
    result = invoke("inspect", f"{mlp_file}:build", "--data", tmp_path / "obj.pt")
    assert "unpickling can run arbitrary code" in result.stderr


def test_api_errors_are_percgrad_errors():
    with pytest.raises(PercgradError) as err:
        percgrad.inspect(nn.Linear(2, 2))
    assert err.value.option == "--input-shape"
    with pytest.raises(PercgradError) as err:
        percgrad.inspect(3, torch.zeros(1, 2))
    assert err.value.option == "TARGET"


# ---------------------------------------------------------------- output


@pytest.mark.parametrize("width", [60, 80])
def test_output_fits_the_width_and_keeps_every_number(broken, deep, nan_report, width):
    for report in (broken, deep, nan_report):
        text = render(report, width)
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= width
        for m in report.modules:
            for value in (m.grad_norm, m.output_grad_norm):
                if value is not None:
                    assert num(value, 3) in text, (m.name, num(value, 3))
        for g in report.check.groups:
            if g.rel_error is not None and g in report.check.groups[:10] and g.passed is False:
                assert num(g.rel_error, 2) in text
        # Rich's ellipsis never cuts a cell: every "…" is one of ours ("a … b", ", …,")
        assert all(re.search(r"(^|\s|,)…(\s|,|$)", line) for line in lines if "…" in line)


def test_check_output_fits_60_columns():
    report = percgrad.check(f"{EX / 'bad_function.py'}:ScaledSoftplus", shapes="3x4,4")
    text = render(check_renderables(report), 60)
    assert max(len(line) for line in text.splitlines()) <= 60
    assert num(report.check.max_rel_error, 2) in text


def test_redirected_output_is_plain_and_fits(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "percgrad", "inspect", f"{EX / 'nan_layer.py'}:build",
         "--input-shape", "8,16"], capture_output=True, text=True, timeout=120,
        env={"PATH": "", "PYTHONPATH": str(ROOT / "src")})
    assert out.returncode == 0, out.stderr
    assert "\x1b[" not in out.stdout
    assert max(len(line) for line in out.stdout.splitlines()) <= 80
    assert "logf" in out.stdout


def test_json_and_save_and_plot(tmp_path):
    target = f"{EX / 'nan_layer.py'}:build"
    result = invoke("inspect", target, "--input-shape", "8,16", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["command"] == "inspect" and doc["diagnosis"]["first_nonfinite_forward"] == "logf"
    assert doc["check"]["passed"] is None and doc["timing"]["stats_s"] is None
    assert doc["diagnosis"]["sentences"][0].startswith("NON-FINITE")
    save, plot = tmp_path / "i.html", tmp_path / "i.svg"
    result = invoke("inspect", target, "--input-shape", "8,16", "--save", save, "--plot", plot)
    assert result.exit_code == 0, result.output
    assert "logf" in save.read_text(encoding="utf-8")
    assert plot.read_text(encoding="utf-8").startswith("<?xml")


def test_rich_print_of_a_report(deep):
    assert "Modules in forward order" in render(inspect_renderables(deep), 120)


def test_help_imports_no_torch_and_says_it_runs_code():
    probe = (
        "import sys\nfrom typer.testing import CliRunner\nfrom percgrad.cli.app import app\n"
        "r = CliRunner()\nfor cmd in ('inspect', 'check'):\n"
        "    res = r.invoke(app, [cmd, '--help'], env={'COLUMNS': '200'})\n"
        "    assert res.exit_code == 0, res.output\n"
        "    assert 'runs' in res.output and 'code' in res.output, res.output\n"
        "import percgrad\nassert callable(percgrad.inspect) and callable(percgrad.check)\n"
        "print(','.join(n for n in ('torch', 'numpy') if n in sys.modules) or 'none')\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "none", out.stdout + out.stderr
