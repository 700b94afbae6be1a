"""What ``phase`` sweeps (spec/phase.py): the σ_w² × σ_b² grid and the request, validated, every
error naming its option."""

from __future__ import annotations

import pytest

from percgrad.errors import PercgradError
from percgrad.spec.phase import parse_grid, phase_spec

# ---------------------------------------------------------------- the grid and the request


def test_grid_includes_stop_and_sorts_lists() -> None:
    assert parse_grid("0.5:4:0.25", "--sigma-w2", 0.0, True) == tuple(0.5 + 0.25 * i for i in range(15))
    assert parse_grid("2, 1,1.5,1", "--sigma-w2", 0.0, True) == (1.0, 1.5, 2.0)
    assert parse_grid("0:0.3:0.05", "--sigma-b2", 0.0, False)[-1] == pytest.approx(0.3)


@pytest.mark.parametrize(("text", "option", "needle"), [
    ("0.5:4", "--sigma-w2", "start:stop:step"),
    ("1:0.5:0.1", "--sigma-w2", "stop is below start"),
    ("0:1:0", "--sigma-w2", "step must be positive"),
    ("0,1", "--sigma-w2", "must be > 0"),
    ("-0.1,0.2", "--sigma-b2", "must be ≥ 0"),
    ("a,1", "--sigma-w2", "not a number"),
    ("nan", "--sigma-b2", "not a finite number"),
])
def test_grid_errors_name_the_option(text: str, option: str, needle: str) -> None:
    with pytest.raises(PercgradError) as err:
        phase_spec(**{option[2:].replace("-", "_"): text})
    assert err.value.option == option and needle in err.value.message


@pytest.mark.parametrize(("kw", "option"), [
    ({"depth": 3}, "--depth"), ({"width": 1}, "--width"), ({"batch": 0}, "--batch"),
    ({"dtype": "float16"}, "--dtype"), ({"device": "tpu"}, "--device"), ({"lr": -1.0}, "--lr"),
    ({"train_steps": -2}, "--train-steps"), ({"activation": "tanhh"}, "--activation"),
    ({"sigma_w2": "0.001:100:0.001", "sigma_b2": "0:1:0.5"}, "--sigma-w2"),
])
def test_request_errors(kw: dict, option: str) -> None:
    with pytest.raises(PercgradError) as err:
        phase_spec(**kw)
    assert err.value.option == option


def test_train_steps_bring_a_smaller_grid_and_depth() -> None:
    plain, train = phase_spec(), phase_spec(train_steps=10)
    assert plain.points == 105 and plain.depth == 100
    assert train.points < plain.points and train.depth == 20
    assert train.lr == pytest.approx(0.6 / 20)
