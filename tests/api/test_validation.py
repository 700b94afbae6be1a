"""The Python API validates like the CLI (issue 20, item 5): every bad argument of single,
multi, vanish, phase, explain, inspect and check raises a PercgradError naming it — never a raw
TypeError or ValueError, never a value taken by its truthiness (``bias='false'``) or truncated
(``input_shape=(2.5, 4)`` as batch 2) — and an unknown keyword argument is refused by name."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import percgrad
from percgrad.errors import PercgradError

CPU = {"device": "cpu", "check": "off"}
LINEAR = torch.nn.Linear(4, 1)

# (what, keyword arguments, the option the message names)
COMMON: list[tuple[str, Any, str]] = [
    ("activation", 3, "--activation"), ("activation", None, "--activation"),
    ("activation", "nope", "--activation"), ("activation", b"tanh", "--activation"),
    ("loss", 3, "--loss"), ("loss", "nope", "--loss"),
    ("init", 3, "--init"), ("init", "nope", "--init"),
    ("gain", "1", "--gain"), ("gain", None, "--gain"), ("gain", float("nan"), "--gain"),
    ("gain", -1.0, "--gain"), ("gain", True, "--gain"), ("gain", [1.0], "--gain"),
    ("bias", "false", "--bias"), ("bias", "true", "--bias"), ("bias", 1, "--bias"),
    ("bias", 0, "--bias"), ("bias", [True], "--bias"),
    ("sigma_w2", "1", "--sigma-w2"), ("sigma_w2", -1.0, "--sigma-w2"),
    ("sigma_w2", float("inf"), "--sigma-w2"), ("sigma_w2", True, "--sigma-w2"),
    ("sigma_b2", "0", "--sigma-b2"), ("sigma_b2", -1.0, "--sigma-b2"),
    ("sigma_b2", float("nan"), "--sigma-b2"),
    ("seed", -1, "--seed"), ("seed", 1.5, "--seed"), ("seed", "0", "--seed"),
    ("seed", True, "--seed"), ("seed", None, "--seed"), ("seed", 2**64, "--seed"),
    ("check", 3, "--check"), ("check", "nope", "--check"), ("check", None, "--check"),
    ("check", True, "--check"),
    ("tolerance", "1e-3", "--tolerance"), ("tolerance", -1.0, "--tolerance"),
    ("tolerance", 0.0, "--tolerance"), ("tolerance", float("nan"), "--tolerance"),
    ("tolerance", True, "--tolerance"),
    ("device", 3, "--device"), ("device", "gpu", "--device"), ("device", None, "--device"),
    ("device", "cuda:x", "--device"),
    ("dtype", 3, "--dtype"), ("dtype", "float16", "--dtype"), ("dtype", None, "--dtype"),
    ("dtype", torch.float32, "--dtype"),
    ("max_memory", -1, "--max-memory"), ("max_memory", 0, "--max-memory"),
    ("max_memory", "lots", "--max-memory"), ("max_memory", 1.5, "--max-memory"),
    ("max_memory", True, "--max-memory"), ("max_memory", [1], "--max-memory"),
    ("mistake", 3, "--mistake"), ("mistake", "nope", "--mistake"),
    ("target", None, "--target"), ("target", "abc", "--target"),
    ("target", float("nan"), "--target"), ("target", [], "--target"),
    ("target", {"a": 1}, "--target"), ("target", [True], "--target"),
    ("batch", 0, "--batch"), ("batch", -1, "--batch"), ("batch", 1.5, "--batch"),
    ("batch", "2", "--batch"), ("batch", True, "--batch"),
]

OWN: dict[str, list[tuple[str, Any, str]]] = {
    "single": [
        ("inputs", 0, "--inputs"), ("inputs", -1, "--inputs"), ("inputs", 2.5, "--inputs"),
        ("inputs", "3", "--inputs"), ("inputs", True, "--inputs"),
        ("x", 3, "--x"), ("x", "a,b", "--x"), ("x", [[1, 2], [3]], "--x"),
        ("x", [float("nan")], "--x"), ("x", {"a": 1}, "--x"), ("x", [[1, "a"]], "--x"),
        ("w", "a", "--w"), ("w", [float("inf")], "--w"), ("w", {"a": 1}, "--w"),
        ("w", True, "--w"), ("b", "x", "--b"), ("b", [float("nan")], "--b"), ("b", True, "--b"),
    ],
    "multi": [
        ("inputs", 0, "--inputs"), ("inputs", 2.5, "--inputs"), ("inputs", "3", "--inputs"),
        ("inputs", True, "--inputs"),
        ("outputs", 0, "--outputs"), ("outputs", 2.5, "--outputs"), ("outputs", "4", "--outputs"),
        ("outputs", True, "--outputs"), ("outputs", None, "--outputs"),
        ("hidden", [0], "--hidden"), ("hidden", [2.5], "--hidden"), ("hidden", "a", "--hidden"),
        ("hidden", [True], "--hidden"), ("hidden", 5, "--hidden"), ("hidden", ["4"], "--hidden"),
        ("x", 3, "--x"), ("x", "1;2,3", "--x"),
    ],
    "vanish": [
        ("depth", 0, "--depth"), ("depth", -1, "--depth"), ("depth", 2.5, "--depth"),
        ("depth", "10", "--depth"), ("depth", True, "--depth"), ("depth", None, "--depth"),
        ("width", 0, "--width"), ("width", 2.5, "--width"), ("width", "1", "--width"),
        ("width", True, "--width"),
        ("inputs", 0, "--inputs"), ("inputs", 2.5, "--inputs"), ("inputs", True, "--inputs"),
        ("residual", "yes", "--residual"), ("residual", 1, "--residual"),
        ("residual", None, "--residual"),
        ("norm", 3, "--norm"), ("norm", "batch", "--norm"), ("norm", None, "--norm"),
        ("steps", -1, "--steps"), ("steps", 2.5, "--steps"), ("steps", "1", "--steps"),
        ("steps", True, "--steps"), ("steps", 10**9, "--steps"),
        ("lr", "0.1", "--lr"), ("lr", True, "--lr"),
        ("bound", "false", "--bound"), ("bound", 1, "--bound"), ("bound", 0, "--bound"),
        ("tensors", "false", "--tensors"), ("tensors", 1, "--tensors"),
        ("tensors", None, "--tensors"),
        ("spectrum", "true", "--spectrum"), ("spectrum", 1, "--spectrum"),
        ("spectrum", None, "--spectrum"),
        ("compare", 3, "--compare"), ("compare", "nope", "--compare"), ("compare", "", "--compare"),
        ("compare", [3], "--compare"), ("compare_init", 3, "--compare-init"),
        ("compare_init", "nope", "--compare-init"), ("compare_arch", 3, "--compare-arch"),
        ("compare_arch", "nope", "--compare-arch"),
    ],
}

UNKNOWN = [("single", "inptus"), ("multi", "hiden"), ("vanish", "compare_acts"),
           ("vanish", "detph"), ("phase", "widht"), ("inspect", "input_shap"),
           ("check", "shape"), ("explain", "detail")]


def _cases() -> list[Any]:
    cases = []
    for command in ("single", "multi", "vanish"):
        for key, value, option in COMMON + OWN[command]:
            kwargs = {**CPU, key: value} if key not in ("device", "check") else {key: value}
            if command == "vanish" and key != "depth":
                kwargs.setdefault("depth", 3)
            cases.append(pytest.param(command, kwargs, option, id=f"{command}-{key}={value!r}"))
    return cases


@pytest.mark.parametrize(("command", "kwargs", "option"), _cases())
def test_a_bad_argument_of_a_built_in_command_is_refused_by_name(command: str, kwargs: dict,
                                                                 option: str) -> None:
    with pytest.raises(PercgradError) as caught:
        getattr(percgrad, command)(**kwargs)
    assert option in str(caught.value)


PHASE: list[tuple[str, Any, str]] = [
    ("activation", 3, "--activation"), ("activation", "nope", "--activation"),
    ("sigma_w2", "a", "--sigma-w2"), ("sigma_w2", [True], "--sigma-w2"),
    ("sigma_w2", -1.0, "--sigma-w2"), ("sigma_b2", -1, "--sigma-b2"),
    ("depth", 0, "--depth"), ("depth", 2.5, "--depth"), ("depth", "5", "--depth"),
    ("depth", True, "--depth"), ("width", 1, "--width"), ("width", 2.5, "--width"),
    ("width", True, "--width"), ("batch", 0, "--batch"), ("batch", 2.5, "--batch"),
    ("batch", True, "--batch"), ("seed", -1, "--seed"), ("seed", 1.5, "--seed"),
    ("seed", True, "--seed"), ("seed", "0", "--seed"), ("device", 3, "--device"),
    ("device", "gpu", "--device"), ("dtype", 3, "--dtype"), ("dtype", "float16", "--dtype"),
    ("train_steps", -1, "--train-steps"), ("train_steps", 2.5, "--train-steps"),
    ("train_steps", True, "--train-steps"), ("lr", "0.1", "--lr"), ("lr", -1.0, "--lr"),
    ("lr", True, "--lr"), ("max_memory", -1, "--max-memory"), ("max_memory", "x", "--max-memory"),
    ("max_memory", 1.5, "--max-memory"), ("max_memory", True, "--max-memory"),
    ("progress", 3, "progress"),
]


@pytest.mark.parametrize(("key", "value", "option"), PHASE, ids=lambda v: repr(v))
def test_a_bad_argument_of_phase_is_refused_by_name(key: str, value: Any, option: str) -> None:
    kwargs = {"depth": 4, "width": 4, "sigma_w2": "1", "sigma_b2": "0", "device": "cpu", key: value}
    with pytest.raises(PercgradError) as caught:
        percgrad.phase(**kwargs)
    assert option in str(caught.value)


INSPECT: list[tuple[str, Any, str]] = [
    ("input_shape", (2.5, 4), "--input-shape"), ("input_shape", (0, 4), "--input-shape"),
    ("input_shape", "a,b", "--input-shape"), ("input_shape", (True, 4), "--input-shape"),
    ("input_shape", [-1, 4], "--input-shape"), ("input_shape", 5, "--input-shape"),
    ("input_shape", ("2", "4"), "--input-shape"),
    ("loss", 3, "--loss"), ("loss", "nope", "--loss"),
    ("train", "false", "--train"), ("train", 1, "--train"), ("train", None, "--train"),
    ("steps", -1, "--steps"), ("steps", 2.5, "--steps"), ("steps", "1", "--steps"),
    ("steps", True, "--steps"), ("steps", 10**9, "--steps"),
    ("lr", "0.1", "--lr"), ("lr", True, "--lr"),
    ("check", 3, "--check"), ("check", "nope", "--check"),
    ("tolerance", "1", "--tolerance"), ("tolerance", -1.0, "--tolerance"),
    ("tolerance", True, "--tolerance"),
    ("seed", 1.5, "--seed"), ("seed", True, "--seed"), ("seed", "0", "--seed"),
    ("seed", 2**63, "--seed"), ("device", 3, "--device"), ("device", "gpu", "--device"),
    ("max_memory", -1, "--max-memory"), ("max_memory", "x", "--max-memory"),
    ("max_memory", True, "--max-memory"), ("max_memory", 1, "--max-memory"),
    ("state_dict", 3, "--state-dict"), ("targets_file", 3, "--targets"),
    ("target_column", 3, "--target-column"), ("progress", 3, "progress"),
]


@pytest.mark.parametrize(("key", "value", "option"), INSPECT, ids=lambda v: repr(v))
def test_a_bad_argument_of_inspect_is_refused_by_name(key: str, value: Any, option: str) -> None:
    kwargs = {"input_shape": "2,4", "check": "off", "device": "cpu", key: value}
    with pytest.raises(PercgradError) as caught:
        percgrad.inspect(LINEAR, **kwargs)
    assert option in str(caught.value)


def test_inspect_refuses_bad_data_and_models() -> None:
    with pytest.raises(PercgradError, match="--data"):
        percgrad.inspect(LINEAR, data=3)
    with pytest.raises(PercgradError, match="TARGET"):
        percgrad.inspect(3, input_shape="2,4")
    with pytest.raises(PercgradError, match="TARGET"):
        percgrad.inspect("no_such_module_here:thing", input_shape="2,4")


CHECK: list[tuple[str, Any, str]] = [
    ("shapes", 3, "--shapes"), ("shapes", "a", "--shapes"), ("shapes", [(2.5,)], "--shapes"),
    ("shapes", "0", "--shapes"), ("shapes", [], "--shapes"), ("shapes", [(True,)], "--shapes"),
    ("check", 3, "--check"), ("check", "nope", "--check"),
    ("tolerance", "1", "--tolerance"), ("tolerance", -1.0, "--tolerance"),
    ("tolerance", True, "--tolerance"),
    ("seed", 1.5, "--seed"), ("seed", True, "--seed"), ("seed", "0", "--seed"),
    ("dtype", 3, "--dtype"), ("dtype", "float16", "--dtype"), ("dtype", torch.float64, "--dtype"),
    ("max_memory", -1, "--max-memory"), ("max_memory", "x", "--max-memory"),
    ("max_memory", True, "--max-memory"), ("progress", 3, "progress"),
]


@pytest.mark.parametrize(("key", "value", "option"), CHECK, ids=lambda v: repr(v))
def test_a_bad_argument_of_check_is_refused_by_name(key: str, value: Any, option: str) -> None:
    kwargs = {"shapes": "3", key: value}
    with pytest.raises(PercgradError) as caught:
        percgrad.check(torch.sin, **kwargs)
    assert option in str(caught.value)


@pytest.mark.parametrize("topic", [3, None, b"chi", ["chi"], "nope"])
def test_a_bad_topic_of_explain_is_refused_by_name(topic: Any) -> None:
    with pytest.raises(PercgradError, match="TOPIC"):
        percgrad.explain(topic)


@pytest.mark.parametrize(("command", "name"), UNKNOWN)
def test_an_unknown_keyword_is_refused_by_name(command: str, name: str) -> None:
    call = {"single": lambda: percgrad.single(device="cpu", **{name: 3}),
            "multi": lambda: percgrad.multi(device="cpu", **{name: 3}),
            "vanish": lambda: percgrad.vanish(device="cpu", **{name: 3}),
            "phase": lambda: percgrad.phase(**{name: 3}),
            "inspect": lambda: percgrad.inspect(LINEAR, input_shape="2,4", **{name: 3}),
            "check": lambda: percgrad.check(torch.sin, shapes="3", **{name: 3}),
            "explain": lambda: percgrad.explain("chi", **{name: 3})}[command]
    with pytest.raises(PercgradError) as caught:
        call()
    assert name in str(caught.value)
    assert isinstance(caught.value, TypeError)  # as Python's own unknown keyword is


def test_a_truthy_string_is_never_taken_as_true() -> None:
    with pytest.raises(PercgradError, match="--bias"):
        percgrad.single(bias="false", **CPU)
    with pytest.raises(PercgradError, match="--train"):
        percgrad.inspect(LINEAR, input_shape="2,4", train="false", **CPU)


def test_good_arguments_of_every_kind_still_run() -> None:
    import numpy as np

    assert percgrad.single(inputs=3, gain=np.float64(1.0), bias=True,
                           x=torch.tensor([[1.0, 2.0, 3.0]]), w=np.array([0.1, 0.2, 0.3]),
                           **CPU).loss >= 0
    assert percgrad.multi(hidden=(3, 2), target=[0.5] * 4, max_memory=2**30, **CPU)
    assert percgrad.vanish(depth=3, compare=["sigmoid", "tanh"], **CPU)
    report = percgrad.inspect(LINEAR, input_shape=[2, 4], check="off", device="cpu")
    assert report.input_shapes == [(2, 4)]
    assert percgrad.check(torch.mul, shapes=[(2, 2), [2, 2]], check="off").check.method == "off"


def test_every_case_above_counts() -> None:
    total = (len(_cases()) + len(PHASE) + len(INSPECT) + len(CHECK) + 5 + len(UNKNOWN))
    assert total >= 300
