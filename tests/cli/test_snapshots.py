"""Snapshots of what the CLI prints: about 40 command lines covering every command and option
family, rendered at 80 and 140 columns and as ``--json``, compared byte for byte with
tests/cli/snapshots/<name>.txt. ``PERCGRAD_UPDATE_GOLDEN=1`` rewrites the files instead.

What depends on the machine (the processor's name, the ``time:`` line, the version) is replaced
before comparing, so a difference is a change of behaviour.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from golden_util import check_text
from percgrad.cli.app import app
from percgrad.runtime import device

pytestmark = pytest.mark.cli

SNAPSHOTS = Path(__file__).parent / "snapshots"
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = "examples"
"""Relative to ROOT, where the runs take place, so that the text is the same in any clone."""

CASES: dict[str, tuple[str, ...]] = {
    "single": ("single", "--inputs", "3"),
    "single-batch": ("single", "--inputs", "5", "--batch", "4", "--bias"),
    "single-bce": ("single", "--inputs", "3", "--loss", "bce"),
    "single-tanh-xavier": ("single", "--inputs", "4", "--activation", "tanh", "--init", "xavier"),
    "single-hand": ("single", "--x", "0.5,-1.2,2", "--w", "0.3,0.1,-0.4", "--b", "0.5", "--target", "0"),
    "single-mistake": ("single", "--inputs", "3", "--mistake", "forget-dphi"),
    "single-float64-fast": ("single", "--inputs", "6", "--dtype", "float64", "--check", "fast"),
    "multi": ("multi", "--inputs", "3", "--outputs", "4"),
    "multi-hidden": ("multi", "--inputs", "4", "--hidden", "8,8", "--outputs", "2"),
    "multi-relu-batch": ("multi", "--inputs", "3", "--hidden", "5", "--outputs", "2", "--activation", "relu",
                         "--init", "kaiming", "--batch", "3", "--bias"),
    "multi-mistake": ("multi", "--inputs", "4", "--hidden", "4", "--outputs", "4",
                      "--mistake", "forget-dphi"),
    "multi-mistake-transpose": ("multi", "--inputs", "3", "--hidden", "4", "--outputs", "2", "--mistake",
                                "no-transpose"),
    "multi-meanfield": ("multi", "--inputs", "3", "--hidden", "6", "--outputs", "2", "--init", "meanfield",
                        "--sigma-w2", "2", "--sigma-b2", "0.1", "--activation", "gelu"),
    "vanish": ("vanish", "--depth", "10"),
    "vanish-width": ("vanish", "--depth", "12", "--width", "8"),
    "vanish-residual": ("vanish", "--depth", "10", "--width", "8", "--residual"),
    "vanish-norm": ("vanish", "--depth", "10", "--width", "8", "--norm", "layer"),
    "vanish-resnorm": ("vanish", "--depth", "8", "--width", "6", "--residual", "--norm", "layer", "--bias"),
    "vanish-compare": ("vanish", "--depth", "10", "--width", "8", "--compare", "sigmoid,tanh,relu"),
    "vanish-compare-init": ("vanish", "--depth", "10", "--width", "8", "--compare-init",
                            "normal,xavier,kaiming"),
    "vanish-compare-arch": ("vanish", "--depth", "8", "--width", "8", "--compare-arch",
                            "plain,residual,layernorm,residual-layernorm"),
    "vanish-steps": ("vanish", "--depth", "8", "--width", "8", "--steps", "5"),
    "vanish-spectrum": ("vanish", "--depth", "6", "--width", "8", "--spectrum", "--activation", "tanh"),
    "vanish-meanfield": ("vanish", "--depth", "20", "--width", "32", "--init", "meanfield", "--sigma-w2",
                         "1.76", "--sigma-b2", "0.05", "--activation", "tanh", "--check", "fast"),
    "vanish-relu-dead": ("vanish", "--depth", "10", "--width", "4", "--activation", "relu", "--gain", "0.1"),
    "vanish-mistake": ("vanish", "--depth", "6", "--width", "4", "--mistake", "wrong-sign"),
    "vanish-nobound-tensors": ("vanish", "--depth", "4", "--width", "3", "--no-bound", "--tensors",
                               "--dtype", "float64"),
    "phase": ("phase", "--activation", "tanh", "--depth", "10", "--width", "16", "--sigma-w2", "0.5:3:0.5",
              "--sigma-b2", "0,0.1"),
    "phase-relu": ("phase", "--activation", "relu", "--depth", "8", "--width", "8", "--sigma-w2", "1,2,3",
                   "--sigma-b2", "0"),
    "explain-delta": ("explain", "delta"),
    "explain-chain-rule": ("explain", "chain-rule"),
    "explain-chi": ("explain", "chi"),
    "explain-saturation": ("explain", "saturation"),
    "explain-dead-units": ("explain", "dead-units"),
    "explain-init": ("explain", "init"),
    "explain-residual": ("explain", "residual"),
    "explain-check": ("explain", "check"),
    "inspect-deep-sigmoid": ("inspect", f"{EXAMPLES}/deep_sigmoid.py:build", "--input-shape", "32,64"),
    "inspect-broken": ("inspect", f"{EXAMPLES}/broken_backward.py:build", "--input-shape", "8,16"),
    "inspect-nan": ("inspect", f"{EXAMPLES}/nan_layer.py:build", "--input-shape", "8,16"),
    "inspect-cnn": ("inspect", f"{EXAMPLES}/small_cnn.py:build", "--input-shape", "8,1,8,8", "--loss",
                    "cross-entropy", "--check", "fast"),
    "inspect-steps": ("inspect", f"{EXAMPLES}/deep_sigmoid.py:build", "--input-shape", "16,64",
                      "--steps", "3", "--check", "off"),
    "check-bad": ("check", f"{EXAMPLES}/bad_function.py:ScaledSoftplus", "--shapes", "3x4,4"),
    "check-plain": ("check", f"{EXAMPLES}/bad_function.py:scaled_softplus", "--shapes", "3x4,4", "--check",
                    "fast"),
    "check-sin": ("check", "torch:sin", "--shapes", "3x4"),
    "error-activation": ("single", "--activation", "sigmod"),
    "error-depth": ("vanish", "--depth", "1.5"),
    "error-save": ("single", "--save", "out.pdf"),
}
"""Each command line, without --device (added: cpu)."""

CPU_NAME = "CPU"
_TIME_LINES = re.compile(r"^time: .*", re.MULTILINE | re.DOTALL)
"""The timings close every report; wrapped, they take more than one line."""
_VERSION = re.compile(r"\b0\.\d+\.\d+\b")


def _normal(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    return _TIME_LINES.sub("time: <varies>", "\n".join(lines)).rstrip("\n") + "\n"


def _machine_free(doc: Any) -> Any:
    if isinstance(doc, dict):
        out = {}
        for key, value in doc.items():
            if key == "name" and isinstance(value, str) and doc.get("type") in ("cpu", "cuda"):
                out[key] = "<device>"
            elif key in ("version", "torch"):
                out[key] = "<version>"
            else:
                out[key] = _machine_free(value)
        return out
    if isinstance(doc, list):
        return [_machine_free(item) for item in doc]
    return doc


def _run(args: tuple[str, ...], columns: int | None, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
        env = None
    else:
        env = {"COLUMNS": str(columns)}
    extra = () if args[0] in ("explain", "check") else ("--device", "cpu")
    result = CliRunner().invoke(app, [*args, *extra], env=env)
    return result.exit_code, result.stdout, result.stderr


def snapshot(name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The text of one case's snapshot file."""
    monkeypatch.setattr(device, "cpu_name", lambda: CPU_NAME)
    monkeypatch.chdir(ROOT)
    args = CASES[name]
    parts = [f"$ percgrad {' '.join(args)}"]
    for columns in (80, 140):
        code, out, err = _run(args, columns, monkeypatch)
        parts.append(f"== COLUMNS={columns} exit {code} ==\n{_normal(out)}")
        if err.strip():
            parts.append(f"== stderr ==\n{_normal(err)}")
    if not name.startswith("error") and CASES[name][0] != "explain":
        code, out, err = _run((*args, "--json"), None, monkeypatch)
        try:
            doc = json.dumps(_machine_free(json.loads(out)), indent=1, ensure_ascii=False, sort_keys=True)
        except json.JSONDecodeError:
            doc = f"<not JSON>\n{out}"
        parts.append(f"== --json exit {code} ==\n{doc}\n")
    return "\n".join(parts)


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = snapshot(name, monkeypatch)
    check_text(SNAPSHOTS / f"{name}.txt", text)
