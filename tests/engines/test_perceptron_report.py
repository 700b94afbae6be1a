"""The learner's warnings a run's report carries (engines/perceptron_report.py): the init scale
(fan-in × gain²), a saturated neuron, layers with many dead units."""

from __future__ import annotations

from typing import Any

import pytest

import percgrad

CPU = {"device": "cpu"}


# ---------------------------------------------------------------- learner warnings


def notices(report: Any, kind: str) -> list[Any]:
    return [n for n in report.warnings if n.kind == kind]


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_init_scale_warning_states_fan_in_times_gain_squared(gain: float) -> None:
    multi = percgrad.multi(hidden="8,8", gain=gain, **CPU)
    (n,) = notices(multi, "init-scale")
    fan_in = max(layer.shape[1] for layer in multi.layers)
    assert n.count == fan_in == 8
    assert n.value == pytest.approx(fan_in * gain**2)
    chain = percgrad.vanish(width=128, depth=3, gain=gain, check="off", **CPU)
    (n,) = notices(chain, "init-scale")
    assert n.count == 128
    assert n.value == pytest.approx(128 * gain**2)
    assert chain.theory is not None
    assert chain.theory.sigma_w2 == pytest.approx(n.value)


def test_no_init_scale_warning_with_xavier() -> None:
    assert not notices(percgrad.multi(hidden="8,8", init="xavier", **CPU), "init-scale")
    assert not notices(percgrad.vanish(width=128, depth=3, init="xavier", check="off", **CPU),
                       "init-scale")


def test_saturated_single_neuron_is_named() -> None:
    report = percgrad.single(inputs=3, **CPU)
    (n,) = notices(report, "saturated")
    layer = report.layers[0]
    assert n.layers == (1,)
    assert n.dphi == layer.mean_abs_dphi
    assert round(n.dphi, 3) == 0.014
    assert report.out is not None
    assert n.dphi == pytest.approx(float(abs(report.out.do_da[0, 0])))
    assert layer.saturated == 1.0
    assert report.to_dict()["layers"][0]["saturated"] == 1.0


def test_dead_units_warning_names_the_layers_with_many_dead_units() -> None:
    report = percgrad.vanish(activation="relu", width=8, depth=5, batch=4, tensors=True, **CPU)
    for layer in report.layers:
        assert layer.pre is not None
        # relu′(a) = 0 for a ≤ 0: a unit is dead when that holds on every sample
        assert layer.dead_units == pytest.approx(float((layer.pre <= 0).all(axis=0).mean()))
    dying = tuple(k + 1 for k, layer in enumerate(report.layers) if 0.5 <= layer.dead_units < 1.0)
    assert dying, [layer.dead_units for layer in report.layers]
    (n,) = notices(report, "dead-units")
    assert n.layers == dying
    assert n.value == max(report.layers[k - 1].dead_units for k in dying)
    assert n.count == 4


# ---------------------------------------------------------------- the report itself


def test_build_report_is_what_a_run_returns() -> None:
    from percgrad.engines import perceptron
    from percgrad.engines.perceptron_report import build_report, to_numpy
    from percgrad.spec.build import multi_spec

    spec = multi_spec(hidden="3", device="cpu", dtype="float64")
    run, timing = perceptron.execute(spec)
    report = build_report(run, timing)
    assert report.to_dict(timing=False) == perceptron.run(spec).to_dict(timing=False)
    assert [layer.shape for layer in report.layers] == [(3, 3), (4, 3)]
    assert report.layers[0].grad.analytic is not None
    assert (to_numpy(run.analytic.weights[0]) == report.layers[0].grad.analytic).all()
    assert to_numpy(None) is None
