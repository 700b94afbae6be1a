"""Properties of ``vanish``'s advice and verdict over generated chains (issue 17): every setting
advised has a trial run judged stable (at the chain's shape, or at a named proxy of the same
depth, σ_w² and σ_b²), none rests on theory alone with χ outside [0.8, 1.25], an init the
init-scale warning names was judged stable, and a chain whose forward signal dies is never
judged "undetermined"."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from percgrad.engines import vanish_trials
from percgrad.engines.meanfield import sigma_b2, sigma_w2
from percgrad.engines.perceptron import build_report, execute
from percgrad.engines.vanish import run_vanish
from percgrad.engines.vanish_trials import first_silent, trial_spec, verdict_of
from percgrad.spec.build import chain_spec
from percgrad.spec.run import Spec

ACTIVATIONS = ("sigmoid", "tanh", "relu", "gelu", "elu", "identity")
INITS = ("normal", "pytorch", "xavier", "kaiming", "orthogonal")
SHAPES = ((4, 1), (12, 1), (300, 1), (8, 4), (12, 16), (20, 32), (30, 64))
"""(depth, width): narrow ones fluctuate, deep width-1 ones lose their signal."""
PROXY = {"VERIFY_BUDGET": 2_000, "PROXY_WIDTH": 4, "PROXY_BATCH": 1}
"""A budget and floors small enough that most generated chains are tried on a proxy."""


def _judged(spec: Spec) -> str:
    result, timing = execute(spec)
    return verdict_of(result, build_report(result, timing)).kind


def check_chain(spec: Spec) -> None:
    report, run = run_vanish(spec)
    summ = report.summary
    assert summ is not None
    for a in summ.advice:
        if a.kind == "none-stable":  # tried, and nothing judged stable
            assert summ.diagnosis != "stable"
            assert not [b for b in summ.advice if b.kind == "setting"], summ.advice
            continue
        if a.kind != "setting":
            assert a.kind == "sigmoid-cap" and summ.diagnosis == "vanishing", a
            continue
        assert a.chi is not None
        assert a.tried or 0.8 <= a.chi <= 1.25, a  # never theory alone beyond [0.8, 1.25]
        assert a.tried == "stable", a
        trial, proxy = trial_spec(spec, a.activation, a.init)
        assert proxy == a.proxy, a
        if proxy is not None:
            width, batch = proxy
            assert trial.depth == spec.depth and max(trial.sizes) == width <= max(spec.sizes)
            assert trial.batch == batch <= max(spec.batch, vanish_trials.PROXY_BATCH)
            full = _unshrunk(spec, a.activation, a.init)
            assert sigma_w2(trial)[-1] == pytest.approx(sigma_w2(full)[-1])
            assert sigma_b2(trial)[-1] == pytest.approx(sigma_b2(full)[-1])
        assert _judged(trial) == "stable", a  # the claim, run again
    silent = first_silent(run)
    if silent is not None:
        assert summ.diagnosis != "undetermined"
        dead_below = [k for k in summ.verdict_layers if k <= silent]
        if summ.diagnosis not in ("non-finite", "dead") or not dead_below:
            assert (summ.diagnosis, summ.verdict_layers) == ("signal-lost", [silent])
    for n in report.warnings:
        if n.kind == "init-scale":
            assert n.where is not None
            if n.where == "stable":
                assert summ.diagnosis == "stable"
            for init in filter(None, n.where.split(",") if n.where != "stable" else []):
                assert _judged(trial_spec(spec, spec.activation, init)[0]) == "stable", n


def _unshrunk(spec: Spec, act: str, init: str) -> Spec:
    """The advised setting at the chain's own shape (what a proxy stands in for)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vanish_trials, "VERIFY_BUDGET", 10**18)
        full, proxy = trial_spec(spec, act, init)
    assert proxy is None
    return full


def chain(activation: str, init: str, norm: str, bias: bool, shape: tuple[int, int],
          batch: int) -> Spec | None:
    depth, width = shape
    if norm == "layer" and width < 3:
        return None
    return chain_spec(depth=depth, width=width, activation=activation, init=init, norm=norm,
                      bias=bias, batch=batch, check="off", device="cpu")


PARAMETERS: dict[str, Any] = dict(
    activation=st.sampled_from(ACTIVATIONS), init=st.sampled_from(INITS),
    norm=st.sampled_from(("none", "layer")), bias=st.booleans(), shape=st.sampled_from(SHAPES),
    batch=st.sampled_from((1, 4)),
)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(**PARAMETERS)
@example(activation="tanh", init="xavier", norm="none", bias=False, shape=(300, 1), batch=1)
@example(activation="identity", init="xavier", norm="none", bias=False, shape=(300, 1),
         batch=1)
@example(activation="sigmoid", init="normal", norm="layer", bias=True, shape=(20, 32),
         batch=1)
def test_advice_and_verdict_at_the_chain_shape(activation: str, init: str, norm: str,
                                               bias: bool, shape: tuple[int, int],
                                               batch: int) -> None:
    spec = chain(activation, init, norm, bias, shape, batch)
    if spec is not None:
        check_chain(spec)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(**PARAMETERS)
@example(activation="sigmoid", init="xavier", norm="none", bias=False, shape=(30, 64), batch=4)
def test_advice_tried_on_a_proxy(activation: str, init: str, norm: str, bias: bool,
                                 shape: tuple[int, int], batch: int) -> None:
    spec = chain(activation, init, norm, bias, shape, batch)
    if spec is None:
        return
    with pytest.MonkeyPatch.context() as mp:
        for name, value in PROXY.items():
            mp.setattr(vanish_trials, name, value)
        check_chain(spec)
