"""Random option lists for every command, valid and not: the CLI always answers with 0, 1 or 2,
never a traceback, a message whenever it refuses, and a JSON document whenever --json ran."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from percgrad.cli.app import app

pytestmark = pytest.mark.cli


FLAG = object()
TMP = Path(tempfile.gettempdir())

BAD_INTS = ["0", "-1", "-3", "1.5", "abc", "", "٣", "9" * 25, str(2**63), "-"]
HUGE_DIMS = ["1000000000000", "100000000000000"]  # refused by the size guard, never allocated
FLOAT_WORDS = ["nan", "inf", "-inf", "1e308", "1e400", "0", "-1", "", "abc", "1e-300", "1e30",
               "−1", "1,2"]
TEXT_WORDS = ["", ",", "1,,2", "ü", "-", "1;2", " ", "0.5,-1.2,2", "1e30,1e30,1e30", "nan",
              "1,2;3,4", "0", "∞", "--json"]


def small_ints(cap: int, low: int = 1) -> st.SearchStrategy[str]:
    return st.integers(low, cap).map(str)


def dims(cap: int) -> st.SearchStrategy[str]:
    return st.one_of(small_ints(cap), small_ints(cap), st.sampled_from(BAD_INTS + HUGE_DIMS))


floats = st.one_of(
    st.floats(0.01, 5.0).map(repr),
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    st.sampled_from(FLOAT_WORDS),
)
texts = st.one_of(st.sampled_from(TEXT_WORDS), st.text(max_size=6))
numbers = st.lists(st.floats(-3, 3).map(lambda v: f"{v:.3g}"), min_size=1, max_size=4).map(",".join)
rows = st.lists(numbers, min_size=1, max_size=3).map(";".join)
names = {
    "activation": ["sigmoid", "tanh", "relu", "leaky-relu", "gelu", "identity"],
    "init": ["normal", "pytorch", "xavier", "kaiming", "orthogonal"],
}


def choice(good: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(good), st.sampled_from(good), texts)


def listing(good: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(st.sampled_from(good), min_size=1, max_size=4).map(",".join), texts
    )


COMMON: dict[str, object] = {
    "--activation": choice(names["activation"]),
    "--loss": choice(["mse", "bce"]),
    "--init": choice(names["init"]),
    "--gain": floats,
    "--bias": FLAG,
    "--no-bias": FLAG,
    "--batch": st.one_of(small_ints(8), st.sampled_from(BAD_INTS + HUGE_DIMS)),
    "--seed": st.one_of(st.integers(0, 2**31).map(str), st.sampled_from([*BAD_INTS, str(2**64)])),
    "--dtype": choice(["float32", "float64"]),
    "--check": choice(["auto", "full", "fast", "off"]),
    "--tolerance": floats,
    "--target": st.one_of(numbers, texts, st.sampled_from(["1", "0.5", "0", "2"])),
    "--max-memory": st.sampled_from(["1K", "64K", "10G", "1.5GB", "garbage", "0", "", "-2G",
                                     "512m", "7"]),
    "--timing": FLAG,
    "--save": st.sampled_from([str(TMP / "percgrad-fuzz.txt"), str(TMP / "percgrad-fuzz.svg"),
                               str(TMP / "percgrad-fuzz.doc"), "/nonexistent-dir/x.html"]),
}
SPECIFIC: dict[str, dict[str, object]] = {
    "single": {
        "--inputs": dims(8),
        "--x": st.one_of(numbers, rows, texts),
        "--w": st.one_of(numbers, texts),
    },
    "multi": {
        "--inputs": dims(8),
        "--outputs": dims(8),
        "--hidden": st.one_of(
            st.lists(small_ints(8), max_size=3).map(",".join),
            st.sampled_from(["0", "a", "-1", ",", "3,0", "1000000000000", "4, 4"]),
        ),
        "--x": st.one_of(numbers, rows, texts),
    },
    "vanish": {
        "--depth": st.one_of(small_ints(30), st.sampled_from(BAD_INTS)),
        "--width": dims(16),
        "--compare": listing(names["activation"]),
        "--compare-init": listing(names["init"]),
        "--steps": st.one_of(small_ints(20, low=0), st.sampled_from(["-1", "-5", "x", "2.5"])),
        "--lr": floats,
        "--tensors": FLAG,
    },
}


@pytest.fixture(scope="module", autouse=True)
def _clean_saved_files():
    yield
    for suffix in (".txt", ".svg", ".doc"):
        (TMP / f"percgrad-fuzz{suffix}").unlink(missing_ok=True)


@st.composite
def command_lines(draw) -> tuple[list[str], bool]:
    command = draw(st.sampled_from(sorted(SPECIFIC)))
    pool = {**COMMON, **SPECIFIC[command]}
    chosen = draw(st.lists(st.sampled_from(sorted(pool)), unique=True, max_size=6))
    args = [command]
    for name in chosen:
        strategy = pool[name]
        if strategy is FLAG:
            args.append(name)
        else:
            args += [name, draw(strategy)]  # type: ignore[arg-type]
    as_json = draw(st.booleans())
    if as_json:
        args.append("--json")
    return [*args, "--device", "cpu"], as_json


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=command_lines())
def test_cli_never_crashes(line: tuple[list[str], bool]) -> None:
    args, as_json = line
    result = CliRunner().invoke(app, args)
    event(f"exit {result.exit_code}")
    where = (args, result.exit_code, result.stderr[-500:], repr(result.exception))
    assert result.exit_code in (0, 1, 2), where
    # exit 1 is a failed check, never an exception that escaped
    assert result.exception is None or isinstance(result.exception, SystemExit), where
    assert "Traceback" not in result.stdout, where
    assert "Traceback" not in result.stderr, where
    if result.exit_code == 2:
        assert result.stderr.strip(), where
    if as_json and result.exit_code in (0, 1):
        doc = json.loads(result.stdout)
        assert doc["command"] == args[0]
