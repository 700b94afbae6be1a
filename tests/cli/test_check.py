"""`percgrad check TARGET --shapes ...` end to end: the wrong input named with exit 1, a right
function passing in both modes, --json, --save and --plot, a nondeterministic function, and
every refusal of TARGET and the options with one message naming them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_util import invoke

pytestmark = pytest.mark.cli


ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


# ---------------------------------------------------------------- the command


def test_cli_names_the_wrong_input_and_exits_1():
    result = invoke("check", f"{EXAMPLES / 'bad_function.py'}:ScaledSoftplus", "--shapes", "3x4,4")
    assert result.exit_code == 1, result.output
    out = " ".join(result.stdout.split())
    assert "FAIL" in out and "w disagrees" in out and "w[" in out
    assert "settled where ε" in out or "agreed with autograd" in out


def test_cli_passes_a_right_function_in_both_modes():
    for mode in ("full", "fast"):
        result = invoke("check", f"{EXAMPLES / 'bad_function.py'}:scaled_softplus", "--shapes",
                        "3x4,4", "--check", mode)
        assert result.exit_code == 0, result.output
        assert "PASS" in result.stdout


def test_cli_json_save_and_plot(tmp_path):
    target = f"{EXAMPLES / 'bad_function.py'}:ScaledSoftplus"
    result = invoke("check", target, "--shapes", "3x4,4", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["command"] == "check" and doc["check"]["passed"] is False
    assert doc["timing"] == {"analytic_s": None, "numeric_s": None}
    assert [i["name"] for i in doc["inputs"]] == ["x", "w"]
    assert "w[" in doc["check"]["sentence"]
    again = json.loads(invoke("check", target, "--shapes", "3x4,4", "--json").stdout)
    assert again == doc, "equal runs give identical documents"
    save, plot = tmp_path / "c.txt", tmp_path / "c.png"
    result = invoke("check", target, "--shapes", "3x4,4", "--save", save, "--plot", plot)
    assert result.exit_code == 1
    assert "Worst entry" in save.read_text(encoding="utf-8")
    assert plot.stat().st_size > 1000


def test_cli_nondeterministic_is_exit_0_with_a_message(tmp_path):
    src = tmp_path / "noisy.py"
    src.write_text("import torch\n\ndef f(x):\n    return x * torch.rand(())\n")
    result = invoke("check", f"{src}:f", "--shapes", "4")
    assert result.exit_code == 0, result.output
    assert "not deterministic" in " ".join(result.stdout.split())


@pytest.mark.parametrize(("args", "option", "words"), [
    (["nocolon", "--shapes", "3"], "TARGET", "is not of the form"),
    (["missing_file.py:f", "--shapes", "3"], "TARGET", "no such file"),
    (["percgrad_no_such_module_xyz:f", "--shapes", "3"], "TARGET", "no module named"),
    (["{bad}:nope", "--shapes", "3"], "TARGET", "has no attribute 'nope'"),
    (["{bad}:scaled_softplus"], "--shapes", "give the inputs' shapes"),
    (["{bad}:scaled_softplus", "--shapes", "3x0"], "--shapes", "not a whole number of at least 1"),
    (["{bad}:scaled_softplus", "--shapes", "3,,4"], "--shapes", "expected sizes"),
    (["{bad}:scaled_softplus", "--shapes", "3xa"], "--shapes", "is not a whole number"),
    (["{bad}:scaled_softplus", "--shapes", "3x4,4", "--tolerance", "-1"], "--tolerance",
     "positive finite"),
    (["{bad}:scaled_softplus", "--shapes", "3x4,5"], "TARGET", "raised RuntimeError"),
    (["{tmp}/const.py:VALUE", "--shapes", "3"], "TARGET", "not a function"),
    (["{tmp}/boom.py:f", "--shapes", "3"], "TARGET", "raised RuntimeError: boom"),
    (["{tmp}/broken.py:f", "--shapes", "3"], "TARGET", "does not compile"),
    (["{tmp}/const.py:text_out", "--shapes", "3"], "TARGET", "no floating-point tensor"),
])
def test_cli_refusals_name_the_option(tmp_path, args, option, words):
    (tmp_path / "const.py").write_text("VALUE = 3\n\ndef text_out(x):\n    return 'no'\n")
    (tmp_path / "boom.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "broken.py").write_text("def f(x:\n")
    subs = {"{bad}": str(EXAMPLES / "bad_function.py"), "{tmp}": str(tmp_path)}
    final = []
    for a in args:
        for k, v in subs.items():
            a = a.replace(k, v)
        final.append(a)
    result = invoke("check", *final)
    assert result.exit_code == 2, result.output
    assert f"Error: {option}:" in result.stderr, result.stderr
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.output
