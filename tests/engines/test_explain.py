"""``percgrad explain``'s worked examples (engines/explain.py): computed on the spot, each topic's
numbers consistent with one another."""

from __future__ import annotations

import math

import pytest

from percgrad.engines.explain import EXAMPLES, example
from percgrad.errors import PercgradError


def test_delta_is_the_product_of_its_chain_rule_factors() -> None:
    v = example("DELTA").values
    assert v["a"] == pytest.approx(v["x0"] * v["w0"] + v["x1"] * v["w1"])
    assert v["o"] == pytest.approx(1 / (1 + math.exp(-v["a"])))
    assert v["delta"] == pytest.approx(v["dEdo"] * v["dphi"])
    assert v["g0"] == pytest.approx(v["delta"] * v["x0"]) == pytest.approx(v["g0_autograd"])


def test_the_check_topic_compares_a_central_difference() -> None:
    v = example("check").values
    assert v["numeric"] == pytest.approx((v["plus"] - v["minus"]) / (2 * v["eps"]))
    assert v["rel"] < v["tol64"]


def test_every_topic_has_an_example_and_nothing_else_does() -> None:
    assert set(EXAMPLES) == {"delta", "chain-rule", "chi", "saturation", "dead-units", "init",
                             "residual", "check"}
    with pytest.raises(PercgradError) as err:
        example("gradients")
    assert err.value.option == "TOPIC"
