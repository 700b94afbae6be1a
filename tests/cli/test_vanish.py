"""`percgrad vanish` through the CLI: tables, JSON, compare (``--compare-arch`` against mean-field
theory too), training, tensors, spectra, --save and --plot (also for single and multi),
non-finite chains, deep chains, determinism."""

from __future__ import annotations

import json
import math
import re
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from percgrad.cli.app import app

pytestmark = pytest.mark.cli


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
THEORY_KEYS = {"sigma_w2", "q", "chi", "depth_scale"}
LAYER_KEYS = {"measured_factor", "predicted_factor", "bound", "mean_abs_dphi"}


def invoke(*args: str):
    return CliRunner().invoke(app, [*args, "--device", "cpu"])


def run_json(*args: str) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, (result.stdout[-2000:], result.stderr)
    return json.loads(result.stdout)


# ---------------------------------------------------------------- tables


def test_default_vanish_shows_table_diagnosis_and_bars() -> None:
    result = invoke("vanish", "--depth", "10")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "measured" in out
    assert "predicted" in out
    assert "VANISHING" in out
    assert "█" in out
    assert "PASS" in out
    assert "Traceback" not in out + result.stderr
    # one row per layer, 1..10
    rows = [int(m.group(1)) for m in re.finditer(r"^[│┃ ]*(\d+)[ │]+\d", out, re.MULTILINE)]
    assert rows == list(range(1, 11))


# ---------------------------------------------------------------- compare


@pytest.mark.parametrize(
    ("option", "values", "by"),
    [("--compare", "sigmoid,tanh,relu", "activation"),
     ("--compare-init", "normal,xavier,kaiming", "init")],
)
def test_compare_json(option: str, values: str, by: str) -> None:
    doc = run_json("vanish", option, values, "--width", "16", "--depth", "5")
    labels = values.split(",")
    assert doc["compare"] == {"by": by, "values": labels}
    runs = doc["runs"]
    assert len(runs) == 3
    assert [r["label"] for r in runs] == labels
    for label, r in zip(labels, runs):
        assert r["settings"][by] == label
        assert set(r["theory"]) >= THEORY_KEYS
        assert len(r["layers"]) == 5
        for layer in r["layers"]:
            assert set(layer) >= LAYER_KEYS
        assert r["layers"][0]["predicted_factor"] == pytest.approx(r["theory"]["chi"][0])
    assert by not in doc["settings"]


def test_compare_runs_equal_the_single_runs() -> None:
    doc = run_json("vanish", "--compare", "tanh,relu", "--width", "4", "--depth", "3")
    for r in doc["runs"]:
        alone = run_json("vanish", "--activation", r["label"], "--width", "4", "--depth", "3")
        assert [la["grad_norm"] for la in r["layers"]] == [la["grad_norm"] for la in alone["layers"]]
        assert r["theory"] == alone["theory"]


def test_compare_table_lists_every_setting() -> None:
    result = invoke("vanish", "--compare", "sigmoid,tanh", "--width", "4", "--depth", "4")
    assert result.exit_code == 0, result.stderr
    assert "by activation" in result.stdout
    assert "sigmoid" in result.stdout and "tanh" in result.stdout
    assert "█" in result.stdout


def test_compare_deduplicates_and_lowercases() -> None:
    doc = run_json("vanish", "--compare", " Tanh, tanh ,RELU", "--width", "2", "--depth", "2")
    assert [r["label"] for r in doc["runs"]] == ["tanh", "relu"]


@pytest.mark.parametrize(
    "args",
    [
        ("--compare", "foo"),
        ("--compare", ""),
        ("--compare", ",,"),
        ("--compare", "sigmoid,foo"),
        ("--compare-init", "hee-normal"),
        ("--compare-arch", "plain,dense-ish"),
        ("--compare-arch", "plain", "--compare", "tanh"),
        ("--compare", "sigmoid", "--compare-init", "xavier"),
        ("--compare", "sigmoid", "--steps", "3"),
    ],
)
def test_bad_compare_exits_2(args: tuple[str, ...]) -> None:
    result = invoke("vanish", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "--compare" in result.stderr or "--steps" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""


# ---------------------------------------------------------------- training


def test_steps_history_in_json() -> None:
    doc = run_json("vanish", "--steps", "10", "--lr", "0.5")
    hist = doc["history"]
    assert [h["step"] for h in hist] == list(range(11))
    for h in hist:
        assert {"step", "loss", "delta_norm"} <= set(h)
        assert len(h["delta_norm"]) == 10
    assert doc["training"]["steps"] == 10
    assert doc["training"]["lr"] == 0.5
    assert hist[0]["loss"] == pytest.approx(doc["loss"])
    assert hist[-1]["loss"] <= hist[0]["loss"]


def test_steps_table() -> None:
    result = invoke("vanish", "--steps", "4", "--depth", "3")
    assert result.exit_code == 0, result.stderr
    assert "Training: 4 SGD steps" in result.stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [(("--steps", "-1"), "--steps"), (("--steps", "5", "--lr", "0"), "--lr"),
     (("--steps", "5", "--lr", "-0.1"), "--lr"), (("--steps", "5", "--lr", "inf"), "--lr")],
)
def test_bad_training_options_exit_2(args: tuple[str, ...], option: str) -> None:
    result = invoke("vanish", *args)
    assert result.exit_code == 2
    assert option in result.stderr


def test_lr_is_ignored_without_steps() -> None:
    assert invoke("vanish", "--lr", "0", "--depth", "2").exit_code == 0


# ---------------------------------------------------------------- tensors


def test_json_has_no_tensors_unless_asked() -> None:
    doc = run_json("vanish", "--depth", "3", "--width", "2")
    for layer in doc["layers"]:
        assert layer["weight"] is None
        grad = layer["grad"]
        assert grad is None or all(v is None for v in grad.values())
    assert doc["input"] is None


def test_tensors_puts_matrices_in_json() -> None:
    doc = run_json("vanish", "--depth", "3", "--width", "2", "--tensors")
    for layer in doc["layers"]:
        w = np.array(layer["weight"])
        assert w.shape == (2, 2)
        assert np.array(layer["grad"]["analytic"]).shape == (2, 2)
        assert np.array(layer["grad"]["autograd"]).shape == (2, 2)
        assert np.linalg.norm(np.array(layer["grad"]["autograd"])) == pytest.approx(
            layer["grad_norm"], rel=1e-6)
        assert np.linalg.norm(w) == pytest.approx(layer["weight_norm"], rel=1e-6)


# ---------------------------------------------------------------- --save


@pytest.mark.parametrize("suffix", [".svg", ".html", ".txt"])
def test_save_writes_the_tables(tmp_path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    result = invoke("vanish", "--depth", "4", "--save", str(path))
    assert result.exit_code == 0, result.stderr
    text = path.read_text(encoding="utf-8")
    assert text
    # SVG and HTML keep the text, with spaces encoded in SVG
    assert "measured" in text or "measured" in text.replace("&#160;", " ")
    assert "Gradient" in text.replace("&#160;", " ")
    if suffix == ".svg":
        assert "<svg" in text
    if suffix == ".html":
        assert "<html" in text.lower()
    assert "measured" in result.stdout  # still shown


@pytest.mark.parametrize("suffix", [".txt", ".svg"])
def test_save_together_with_json(tmp_path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    result = invoke("vanish", "--depth", "4", "--json", "--save", str(path))
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)  # stdout is only the JSON document
    assert len(doc["layers"]) == 4
    text = path.read_text(encoding="utf-8").replace("&#160;", " ")
    assert "measured" in text


def test_save_with_json_keeps_stdout_pure_json(tmp_path) -> None:
    path = tmp_path / "out.txt"
    result = invoke("vanish", "--depth", "4", "--json", "--save", str(path))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["command"] == "vanish"
    assert path.exists()


def test_save_bad_suffix_is_refused_before_the_run(tmp_path) -> None:
    path = tmp_path / "out.doc"
    result = invoke("vanish", "--depth", "4", "--save", str(path))
    assert result.exit_code == 2
    assert "--save" in result.stderr and ".svg, .html" in result.stderr
    assert result.stdout == ""  # refused before anything ran
    assert not path.exists()


def test_save_to_missing_directory_is_refused_before_the_run() -> None:
    result = invoke("vanish", "--depth", "4", "--save", "/nonexistent-dir/x.svg")
    assert result.exit_code == 2
    assert "/nonexistent-dir/x.svg" in result.stderr
    assert "--save" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stdout + result.stderr


def test_save_failing_at_write_time_still_prints_the_report(tmp_path, monkeypatch) -> None:
    from percgrad.views import save

    def full_disk(console, path):
        raise save.PercgradError(f"cannot write {str(path)!r}: No space left on device", "--save")

    monkeypatch.setattr(save, "save_console", full_disk)
    result = invoke("vanish", "--depth", "4", "--save", str(tmp_path / "x.svg"))
    assert result.exit_code == 2
    assert "No space left" in result.stderr
    assert "measured" in result.stdout  # nothing the user asked for is lost


# ---------------------------------------------------------------- --plot


@pytest.mark.parametrize(
    "args",
    [("vanish", "--depth", "5"), ("single",), ("multi", "--hidden", "3")],
)
def test_plot_writes_png(tmp_path, args: tuple[str, ...]) -> None:
    path = tmp_path / "plot.png"
    result = invoke(*args, "--plot", str(path))
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_plot_svg_with_json(tmp_path) -> None:
    path = tmp_path / "plot.svg"
    result = invoke("vanish", "--depth", "3", "--json", "--plot", str(path))
    assert result.exit_code == 0, result.stderr
    json.loads(result.stdout)
    assert "<svg" in path.read_text(encoding="utf-8")


# Regression: export._series looked for compared runs in report.extra['runs'] and then read
# report.settings['activation'], which a --compare report drops: a KeyError traceback.
def test_plot_of_a_comparison(tmp_path) -> None:
    path = tmp_path / "cmp.png"
    result = invoke("vanish", "--compare", "sigmoid,tanh", "--width", "3", "--depth", "4",
                    "--plot", str(path))
    assert result.exit_code == 0, repr(result.exception)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_plot_unsupported_format_and_missing_dir_exit_2(tmp_path) -> None:
    for target in (tmp_path / "plot.xyz", "/nonexistent-dir/p.png"):
        result = invoke("vanish", "--depth", "3", "--plot", str(target))
        assert result.exit_code == 2, (target, result.stderr, repr(result.exception))
        assert "--plot" in result.stderr
        assert result.stdout == ""  # refused before the run


@pytest.mark.parametrize("command", ["vanish", "single", "multi"])
def test_plot_without_matplotlib(tmp_path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    path = tmp_path / "plot.png"
    result = invoke(command, "--plot", str(path))
    assert result.exit_code == 2
    assert "pip install" in result.stderr
    assert "matplotlib" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not path.exists()


# ---------------------------------------------------------------- non-finite and deep chains

# Width 8, not 4: with width 4 a ReLU chain of 300 layers almost surely dies (a layer whose four
# units are all negative zeroes everything after it) before it overflows.
EXPLODING = ("vanish", "--activation", "relu", "--gain", "3", "--depth", "300", "--width", "8",
             "--dtype", "float32")


def test_non_finite_chain_is_not_a_failed_check() -> None:
    result = invoke(*EXPLODING)
    assert result.exit_code == 0, result.stderr
    assert "non-finite" in result.stdout
    assert "not applicable" in result.stdout
    assert "FAIL" not in result.stdout
    doc = run_json(*EXPLODING)
    assert doc["finite"] is False
    assert doc["first_nonfinite"].startswith("layer ")
    assert doc["check"]["passed"] is None
    assert any("non-finite" in w for w in doc["warnings"])


def test_narrow_relu_chain_dies_instead() -> None:
    doc = run_json("vanish", "--activation", "relu", "--gain", "3", "--depth", "300",
                   "--width", "4", "--dtype", "float32", "--check", "off")
    assert doc["finite"] is True
    assert doc["layers"][0]["grad_norm"] == 0.0


def test_deep_narrow_chain_runs_with_full_check() -> None:
    start = time.perf_counter()
    doc = run_json("vanish", "--depth", "1000", "--width", "1")
    # ~2 s here; it took ~3 minutes while the quadrature's nodes were recomputed on every call
    assert time.perf_counter() - start < 60
    assert doc["settings"]["check"] == "full"  # auto → full: 1000 parameters
    assert doc["check"]["method"] == "full"
    assert doc["check"]["passed"] is True
    assert len(doc["layers"]) == 1000
    result = invoke("vanish", "--depth", "1000", "--width", "1", "--check", "off")
    assert result.exit_code == 0
    assert "layers not shown" in result.stdout


def test_vanish_json_is_deterministic() -> None:
    args = ("vanish", "--depth", "6", "--width", "3", "--batch", "2", "--json")
    first, second = invoke(*args), invoke(*args)
    assert first.exit_code == second.exit_code == 0
    assert first.stdout == second.stdout
    doc = json.loads(first.stdout)
    assert all(v is None for v in doc["timing"].values())


def test_vanish_json_timing_opt_in() -> None:
    doc = run_json("vanish", "--depth", "2", "--timing")
    assert all(isinstance(v, float) for v in doc["timing"].values())


def test_seed_changes_the_chain() -> None:
    a = run_json("vanish", "--depth", "3", "--width", "3", "--seed", "1")
    b = run_json("vanish", "--depth", "3", "--width", "3", "--seed", "2")
    assert a["layers"][0]["weight_norm"] != b["layers"][0]["weight_norm"]


# ---------------------------------------------------------------- --spectrum

runner = CliRunner()


def test_cli_compare_shows_two_spectra() -> None:
    result = runner.invoke(app, ["vanish", "--spectrum", "--compare-init", "meanfield,orthogonal",
                                 "--activation", "identity", "--depth", "6", "--width", "16",
                                 "--json"])
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)["runs"]
    assert [r["spectrum"]["init"] for r in runs] == ["meanfield", "orthogonal"]
    assert runs[1]["spectrum"]["var_sq"] < 1e-24 < runs[0]["spectrum"]["var_sq"]


# ---------------------------------------------------------------- --compare-arch against mean-field theory

TOLERANCE = 0.15
"""measured/predicted within ±15% of 1."""
COMPARE_ARCH = ["vanish", "--depth", "50", "--width", "256", "--activation", "tanh", "--init",
                "xavier", "--compare-arch", "plain,residual,layernorm", "--device", "cpu"]
DIAGNOSES = {"vanishing", "stable", "exploding"}


@cache
def compare_arch_run() -> tuple[dict, str]:
    """The --json document and, through --save, the tables at 160 columns, from one run (inside
    a test, so under conftest's one torch thread: a module-scoped fixture would run before it,
    with every thread spin-waiting)."""
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / "tables.txt"
        result = CliRunner().invoke(app, [*COMPARE_ARCH, "--json", "--save", str(saved)],
                                    env={"COLUMNS": "160"})
        assert result.exit_code == 0, (result.stdout[-2000:], result.stderr)
        return json.loads(result.stdout), saved.read_text(encoding="utf-8")


def test_compare_arch_cli_json() -> None:
    doc, _ = compare_arch_run()
    labels = ["plain", "residual", "layernorm"]
    assert doc["compare"] == {"by": "arch", "values": labels}
    assert [r["label"] for r in doc["runs"]] == labels
    assert doc["check"]["passed"] is True
    for label, r in zip(labels, doc["runs"]):
        assert r["settings"]["arch"] == label
        assert r["theory"]["arch"] == label
        assert len(r["layers"]) == 50
        assert {layer["kind"] for layer in r["layers"][1:]} == {
            "plain": {"dense"}, "residual": {"residual"}, "layernorm": {"layernorm"}}[label]
        summary = r["summary"]
        measured, predicted = summary["measured_mean_factor"], summary["predicted_mean_factor"]
        assert measured is not None and math.isfinite(measured) and measured > 0
        assert predicted is not None and math.isfinite(predicted) and predicted > 0
        assert abs(measured / predicted - 1) <= TOLERANCE, (label, measured, predicted)
        assert summary["diagnosis"] in DIAGNOSES
        assert summary["predicted_diagnosis"] in DIAGNOSES


def test_compare_arch_cli_tables() -> None:
    """The human output at 160 columns: one summary row per architecture, with the diagnosis
    the JSON gives."""
    doc, out = compare_arch_run()
    assert "compared by arch" in out
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 160
    rows = {label: [line for line in out.splitlines() if line.split()[:1] == [label]]
            for label in ("plain", "residual", "layernorm")}
    for r in doc["runs"]:
        assert any(r["summary"]["diagnosis"] in line.split() for line in rows[r["label"]]), rows
