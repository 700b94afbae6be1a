"""``percgrad explain TOPIC``: the numbers of each topic's worked example, computed on the spot
(the words are in views/explain.py)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from percgrad.catalog import ACTIVATIONS, resolve
from percgrad.engines.perceptron import run
from percgrad.engines.vanish import run_chain
from percgrad.network.net import weight_std
from percgrad.reports.explain import Example, command_line
from percgrad.reports.run import Report
from percgrad.spec import check as judge
from percgrad.spec.build import chain_spec, multi_spec, single_spec
from percgrad.theory import moments as theory


def _single(**options: Any) -> Report:
    return run(single_spec(device="cpu", **options))


def _multi(**options: Any) -> Report:
    return run(multi_spec(device="cpu", **options))


def _vanish(**options: Any) -> Report:
    return run_chain(chain_spec(device="cpu", **options), None)


NEURON: dict[str, Any] = {"x": [1.5, -0.5], "w": [0.8, 0.3], "target": 1.0, "dtype": "float64"}
"""The two-input sigmoid neuron with MSE of delta, saturation and check."""
TWO_LAYERS: dict[str, Any] = {"inputs": 2, "hidden": [2], "outputs": 1, "x": [1.5, -0.5],
                              "dtype": "float64", "seed": 3}
TANH_CHAIN: dict[str, Any] = {"depth": 12, "width": 256, "activation": "tanh", "init": "xavier",
                              "batch": 16, "check": "off"}
DEAD: dict[str, Any] = {"x": "1,2;0.5,1;2,0.5", "w": [-1.0, -0.5], "activation": "relu",
                        "dtype": "float64", "check": "off"}


def _neuron() -> dict[str, float]:
    """A two-input sigmoid neuron with MSE: every factor of its chain rule."""
    r = _single(**NEURON)
    assert r.out is not None and r.output is not None and r.layers[0].grad.analytic is not None
    assert r.layers[0].grad.autograd is not None
    return {
        "x0": 1.5, "x1": -0.5, "w0": 0.8, "w1": 0.3, "t": 1.0,
        "a": float(r.out.pre[0, 0]), "o": float(r.output[0, 0]), "E": r.loss,
        "dEdo": float(r.out.dE_do[0, 0]), "dphi": float(r.out.do_da[0, 0]),
        "delta": float(r.out.delta[0, 0]),
        "g0": float(r.layers[0].grad.analytic[0, 0]), "g1": float(r.layers[0].grad.analytic[0, 1]),
        "g0_autograd": float(r.layers[0].grad.autograd[0, 0]),
        "g0_numeric": float("nan") if r.layers[0].grad.numeric is None
        else float(r.layers[0].grad.numeric[0, 0]),
    }


def delta() -> Example:
    """δ = ∂E/∂a of one neuron."""
    return Example("delta", _neuron(), (command_line("single", NEURON),))


def chain_rule() -> Example:
    """The chain rule through two layers, for one entry."""
    r = _multi(**TWO_LAYERS)
    first, second = r.layers
    assert first.delta is not None and second.delta is not None and second.weight is not None
    assert first.dphi is not None and first.grad.analytic is not None
    assert first.grad.autograd is not None
    back = float(second.delta[0, 0] * second.weight[0, 0])
    return Example("chain-rule", {
        "delta2": float(second.delta[0, 0]), "w2": float(second.weight[0, 0]), "back": back,
        "dphi1": float(first.dphi[0, 0]), "delta1": float(first.delta[0, 0]),
        "x0": 1.5, "g": float(first.grad.analytic[0, 0]),
        "g_autograd": float(first.grad.autograd[0, 0]),
    }, (command_line("multi", TWO_LAYERS),))


def chi() -> Example:
    """χ = σ_w²·E[φ′(h)²] by theory, beside a measured wide chain."""
    tanh_chi = theory.moments("tanh", 1.0)[1]
    r = _vanish(**TANH_CHAIN)
    assert r.summary is not None and r.theory is not None
    return Example("chi", {
        "tanh_q1": tanh_chi, "relu_2": 2.0 * theory.moments("relu", 1.0)[1],
        "sigmoid_max": 1.0 / 16.0,
        "measured": r.summary.measured_mean_factor or math.nan,
        "predicted": r.theory.mean_chi or math.nan,
    }, (command_line("vanish", TANH_CHAIN),))


def saturation() -> Example:
    """σ′(a) at growing |a|, and a saturated neuron."""
    sig: Callable[[float], float] = lambda a: 1.0 / (1.0 + math.exp(-a))  # noqa: E731
    values = {f"s{a}": sig(a) * (1 - sig(a)) for a in (0, 2, 5)}
    values.update({f"t{a}": 1 - math.tanh(a) ** 2 for a in (0, 2, 5)})
    n = _neuron()
    values.update({"a": n["a"], "dphi": n["dphi"]})
    return Example("saturation", values, (command_line("single", NEURON),))


def dead_units() -> Example:
    """A ReLU unit whose pre-activation is negative for every sample gets no gradient."""
    r = _single(**DEAD)
    assert r.out is not None and r.layers[0].grad.analytic is not None
    values = {f"a{b}": float(r.out.pre[b, 0]) for b in range(3)}
    values["g0"] = float(r.layers[0].grad.analytic[0, 0])
    values["vacuous"] = float(r.check.vacuous)
    return Example("dead-units", values, (command_line("single", DEAD),))


def init() -> Example:
    """σ_w² = fan_in·Var(W) of each init at fan-in 256, and the q it leads to."""
    fan = 256
    values: dict[str, float] = {"fan": float(fan)}
    for name, act in (("normal", "tanh"), ("pytorch", "tanh"), ("xavier", "tanh"),
                      ("kaiming", "relu"), ("orthogonal", "tanh")):
        sd = weight_std(name, 1.0, act, fan, fan)
        values[name] = fan * sd * sd
    values["relu_gain"] = ACTIVATIONS["relu"].kaiming_gain
    return Example("init", values)


def residual() -> Example:
    """The factor with and without a skip connection, by theory and measured."""
    plain = _vanish(**TANH_CHAIN)
    skip = _vanish(**TANH_CHAIN, residual=True)
    assert plain.summary is not None and skip.summary is not None
    assert plain.theory is not None and skip.theory is not None
    return Example("residual", {
        "plain_pred": plain.theory.mean_chi or math.nan,
        "plain_meas": plain.summary.measured_mean_factor or math.nan,
        "res_pred": skip.theory.mean_chi or math.nan,
        "res_meas": skip.summary.measured_mean_factor or math.nan,
    }, (command_line("vanish", {**TANH_CHAIN, "compare_arch": ["plain", "residual"]}),))


def check() -> Example:
    """A central difference worked by hand against the analytic derivative."""
    n = _neuron()
    eps = 1e-6

    def loss(w0: float) -> float:
        o = 1.0 / (1.0 + math.exp(-(w0 * n["x0"] + n["w1"] * n["x1"])))
        return (o - n["t"]) ** 2

    plus, minus = loss(n["w0"] + eps), loss(n["w0"] - eps)
    numeric = (plus - minus) / (2 * eps)
    rel = abs(numeric - n["g0"]) / max(abs(numeric), abs(n["g0"]))
    return Example("check", {"eps": eps, "plus": plus, "minus": minus, "numeric": numeric,
                             "analytic": n["g0"], "rel": rel, "tol32": judge.TOLERANCES["float32"],
                             "tol64": judge.TOLERANCES["float64"]},
                   (command_line("single", NEURON),))


EXAMPLES: dict[str, Callable[[], Example]] = {
    "delta": delta, "chain-rule": chain_rule, "chi": chi, "saturation": saturation,
    "dead-units": dead_units, "init": init, "residual": residual, "check": check,
}


def example(topic: str) -> Example:
    """The worked example of ``topic`` (aliases and case as ``explain`` takes them)."""
    return EXAMPLES[resolve(topic, {t: () for t in EXAMPLES}, "TOPIC")]()
