"""Every ``explain`` page's numbers come out of its own command line (engines/explain.py
builds both from one set of options): the page's key figures are found, to the digits shown, in
what that command prints (its tables and its JSON)."""

from __future__ import annotations

import json
import math
import re
import shlex

import pytest

from cli_util import invoke
from percgrad.engines.explain import EXAMPLES

pytestmark = pytest.mark.cli

KEYS = {
    "delta": ("o", "E", "g0", "delta"),
    "chain-rule": ("delta2", "w2", "delta1", "g"),
    "chi": ("measured", "predicted"),
    "saturation": ("a", "dphi"),
    "dead-units": ("a0", "a1", "a2", "g0"),
    "residual": ("plain_meas", "res_meas", "plain_pred", "res_pred"),
    "check": ("analytic",),
}
"""The figures of each page that its command must print (the others are formulas or inputs)."""

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _numbers(value: object) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    if isinstance(value, str):
        return [float(t) for t in NUMBER.findall(value)]
    return []


def _printed(command: str) -> list[float]:
    args = shlex.split(command)[1:]
    table = invoke(*args)
    document = invoke(*args, "--json")
    assert table.exit_code == 0 and document.exit_code == 0, table.output + document.output
    return _numbers(table.stdout) + _numbers(json.loads(document.stdout))


@pytest.mark.parametrize("topic", sorted(KEYS))
def test_the_pages_numbers_come_from_its_command(topic: str) -> None:
    ex = EXAMPLES[topic]()
    assert ex.commands, topic
    printed = [n for c in ex.commands for n in _printed(c)]
    for key in KEYS[topic]:
        v = ex.values[key]
        # three significant digits, the least any page shows
        near = [n for n in printed if math.isclose(n, v, rel_tol=5e-3, abs_tol=1e-12)]
        assert near, (topic, key, v)
