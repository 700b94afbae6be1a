"""`percgrad inspect TARGET ...` end to end: exit 1 and where for a broken backward, every input
format, state dicts, model instances and classes, every refusal naming its option, redirected
output, --json, --save and --plot, and --help without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cli_util import invoke

pytestmark = pytest.mark.cli


ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"


def test_broken_backward_cli_exits_1_and_says_where():
    result = invoke("inspect", f"{EX / 'broken_backward.py'}:build", "--input-shape", "8,16")
    assert result.exit_code == 1, result.output
    out = " ".join(result.stdout.split())  # the words, however the lines wrap
    assert "FAIL" in out and "localised: hidden (LinearTanh)" in out
    assert "The first module whose own backward is wrong: hidden" in out


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


CTRL_C_IN_CHECK = """
import os, signal, torch
from torch import nn
class M(nn.Module):
    def __init__(self):
        super().__init__(); self.a = nn.Linear(6, 8); self.b = nn.Linear(8, 2)
    def forward(self, x):
        if x.dtype == torch.float64:  # the check: a Ctrl-C there
            os.kill(os.getpid(), signal.SIGINT)
        return self.b(torch.tanh(self.a(x)))
"""


def test_ctrl_c_in_the_check_prints_the_table_and_exits_130(tmp_path):
    (tmp_path / "m.py").write_text(CTRL_C_IN_CHECK)
    done = subprocess.run([sys.executable, "-m", "percgrad", "inspect", f"{tmp_path / 'm.py'}:M",
                           "--input-shape", "16,6", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 130, done.stderr
    doc = json.loads(done.stdout)
    assert doc["interrupted"] is True and doc["check"]["reason"] == "interrupted"
    assert [m["name"] for m in doc["modules"]] == ["a", "b"]
    assert done.stderr.strip().endswith("Interrupted.")
