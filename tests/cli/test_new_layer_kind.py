"""A layer kind that exists only in this file: RMSNorm, h = φ(γ ⊙ a / √(mean(a²) + ε)), as one
class plus one catalog entry, registered for the duration of each test (monkeypatch) and run end
to end through ``percgrad vanish``: forward, the hand-derived backward checked against autograd
and finite differences, theory, rendering, ``--spectrum`` and ``--compare-arch``. No package
file names it: this is the promise of the README's "Adding a layer kind".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor
from typer.testing import CliRunner

from percgrad import catalog
from percgrad.catalog import NormInfo
from percgrad.cli.app import app
from percgrad.network.functions import Activation
from percgrad.network.layers import KINDS, Layer, Trace, affine
from percgrad.theory.meanfield import Signal, Step, div, phi_step

pytestmark = pytest.mark.cli

EPS = 1e-6


class RMSNorm(Layer):
    """h = φ(z), z = γ ⊙ a / s, s = √(mean(a²) + ε) over the units of a sample, a = h_prev Wᵀ + b."""

    kind = "rmsnorm"
    symbols = ("W", "b", "γ")

    @classmethod
    def create(cls, act: Activation, weight: Tensor, bias: Tensor | None) -> Layer:
        gamma = torch.ones(weight.shape[0], device=weight.device, dtype=weight.dtype)
        params = [weight] + ([] if bias is None else [bias]) + [gamma]
        return cls(act, params, ["W"] + ([] if bias is None else ["b"]) + ["γ"])

    @classmethod
    def meanfield(cls, activation: str, sigma_w2: float, sigma_b2: float, signal: Signal,
                  width: int | None) -> Step:
        # N·mean(a²)/q ~ χ²_N, so E[1/s²] = N/((N − 2) q); the backward (1/s)(I − ââᵀ/N)
        # keeps N − 1 of N dimensions: r = E[φ′²]·(N − 1)/((N − 2) q + N ε).
        assert width is not None
        q = sigma_w2 * signal.p + sigma_b2
        return phi_step(activation, q, div(q, q + EPS), div(width - 1.0, (width - 2.0) * q + width * EPS))

    def trace(self, h: Tensor, params: Sequence[Tensor]) -> Trace:
        w, *rest = params
        b = rest[0] if len(rest) == 2 else None
        gamma = rest[-1]
        a = affine(h, w, b)
        inv = torch.rsqrt((a * a).mean(dim=-1, keepdim=True) + EPS)
        unit = a * inv
        z = unit * (gamma if gamma.dim() == 1 else gamma[:, None, :])
        return Trace(h, a, z, self.act.value(z), (unit, inv))

    def backward(self, g_out: Tensor, tr: Trace, g_z: Tensor | None = None,
                 wants_input: bool = True) -> tuple[Tensor | None, list[Tensor], Tensor]:
        unit, inv = tr.saved
        gamma = self.params[-1]
        if g_z is None:
            g_z = self.act.backprop_(g_out, tr.z, tr.out)
        g_gamma = (g_z * unit).sum(dim=0)
        g_unit = g_z * gamma
        # â = a/s: ∂E/∂a = (1/s)·(g − â·mean(g⊙â)).
        delta = inv * (g_unit - unit * (g_unit * unit).mean(dim=-1, keepdim=True))
        grads = [torch.mm(delta.t(), tr.h)]
        if len(self.params) == 3:
            grads.append(delta.sum(dim=0))
        grads.append(g_gamma)
        return (torch.mm(delta, self.params[0]) if wants_input else None), grads, delta

    def jacobian(self, tr: Trace, sample: int) -> Tensor:
        unit, inv = tr.saved[0][sample], tr.saved[1][sample]
        n = unit.shape[0]
        eye = torch.eye(n, dtype=unit.dtype, device=unit.device)
        norm = inv * (eye - torch.outer(unit, unit) / n)
        return (self.dphi(tr, sample) * self.params[-1])[:, None] * (norm @ self.weight)


ENTRY = NormInfo(
    "rms", ("rmsnorm", "rms-norm"), "rmsnorm", ("rms-normed",), ("residual+rmsnorm",),
    "root-mean-square-normed", "RMS({})", "rms: h_k = φ(RMS(a_k)) with γ",
    "predicted `χ_k = σ_w²·r_k`, `r_k ≈ E[φ′(z)²]/q_k` (RMS norm)",
    "predicted `χ_k = (r_k/r_k+1)·(1 + σ_w²·r_k+1)` (RMS norm)",
    params=("γ",), min_width=3, width_reason="RMS norm over {width} unit(s) passes too little gradient",
)


@pytest.fixture(autouse=True)
def _rms_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(catalog.NORMS, "rms", ENTRY)
    monkeypatch.setitem(KINDS, "rms", RMSNorm)
    yield


def _vanish(*args: str, columns: int = 100) -> Any:
    result = CliRunner().invoke(app, ["vanish", *args, "--device", "cpu"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, (result.exit_code, result.stdout[-2000:], result.stderr)
    return result


def test_its_backward_passes_the_three_way_check_with_bias_and_a_skip() -> None:
    for extra in ((), ("--bias",), ("--residual",), ("--residual", "--bias", "--activation", "tanh")):
        doc = json.loads(_vanish("--norm", "rms", "--depth", "5", "--width", "6", "--dtype", "float64",
                                 "--check", "full", "--json", *extra).stdout)
        assert doc["settings"]["arch"] == ("residual-rmsnorm" if "--residual" in extra else "rmsnorm")
        assert doc["check"]["passed"] is True, doc["check"]
        assert doc["check"]["max_rel_error"] < 1e-6
        assert doc["check"]["kinks"] + doc["check"]["unresolved"] == 0
        assert [p["name"] for p in doc["layers"][2]["params"]] == ["γ3"]


def test_a_wrong_backward_in_it_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def forgets_the_projection(self: RMSNorm, g_out: Tensor, tr: Trace, g_z: Tensor | None = None,
                               wants_input: bool = True) -> Any:
        unit, inv = tr.saved
        g_z = self.act.backprop_(g_out, tr.z, tr.out) if g_z is None else g_z
        delta = inv * g_z * self.params[-1]  # ∂E/∂a as if s did not depend on a
        grads = [torch.mm(delta.t(), tr.h), (g_z * unit).sum(dim=0)]
        return torch.mm(delta, self.params[0]), grads, delta

    monkeypatch.setattr(RMSNorm, "backward", forgets_the_projection)
    result = CliRunner().invoke(app, ["vanish", "--norm", "rms", "--depth", "3", "--width", "4",
                                      "--device", "cpu", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["check"]["passed"] is False


def test_theory_composes_its_map_and_predicts_the_measured_factor() -> None:
    doc = json.loads(_vanish("--norm", "rms", "--depth", "16", "--width", "256", "--batch", "16",
                             "--activation", "tanh", "--init", "xavier", "--check", "off", "--json").stdout)
    measured = [layer["measured_factor"] for layer in doc["layers"][2:-1]]
    predicted = [layer["predicted_factor"] for layer in doc["layers"][2:-1]]
    geo = math.exp(float(np.mean(np.log(measured))))
    assert geo == pytest.approx(float(np.exp(np.mean(np.log(predicted)))), rel=0.15)
    assert doc["theory"]["arch"] == "rmsnorm"


def test_it_renders_with_its_own_formula_legend_and_title() -> None:
    text = _vanish("--norm", "rms", "--depth", "4", "--width", "6", columns=140).stdout
    assert "a root-mean-square-normed chain of 4 layers" in text
    assert "h_k = σ(RMS(W_k h_k−1))" in text
    assert "(RMS norm)" in text
    res = _vanish("--norm", "rmsnorm", "--residual", "--depth", "4", "--width", "6", columns=140).stdout
    assert "a residual, root-mean-square-normed chain" in res
    assert "h_k = h_k−1 + σ(RMS(W_k h_k−1))" in res


def test_its_jacobian_matches_jacrev_under_spectrum() -> None:
    doc = json.loads(_vanish("--norm", "rms", "--depth", "4", "--width", "8", "--activation", "tanh",
                             "--spectrum", "--json").stdout)
    spectrum = doc["spectrum"]
    assert spectrum["jacrev_rel_error"] < 1e-9
    assert len(spectrum["singular_values"]) == 8


def test_compare_arch_takes_it_by_name_and_alias() -> None:
    doc = json.loads(_vanish("--compare-arch", "plain,rms-normed,residual+rmsnorm", "--depth", "4",
                             "--width", "6", "--json").stdout)
    assert [r["settings"]["arch"] for r in doc["runs"]] == ["plain", "rmsnorm", "residual-rmsnorm"]
    assert all(r["check"]["passed"] for r in doc["runs"])


def test_its_width_rule_is_its_catalog_entry() -> None:
    result = CliRunner().invoke(app, ["vanish", "--norm", "rms", "--width", "2", "--device", "cpu"])
    assert result.exit_code == 2
    assert "--norm: RMS norm over 2 unit(s) passes too little gradient" in result.stderr
