"""The check of a user's function (engines/check.py, ``percgrad.check``): its verdict must agree
with torch.autograd.gradcheck on every function here (full vs fast_mode=False, fast vs
fast_mode=True); it names the worst entry and the step that settled it, leaves kinks out, judges
float32 at float32's tolerance, and refuses bad options like the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function

import percgrad
from functions_util import LinearTanh, ModernSoftplus, plain_mix
from functions_util import random_inputs as _inputs
from percgrad.engines.user_code import resolve_function
from percgrad.errors import PercgradError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


# ---------------------------------------------------------------- the test functions


class IgnoresGradOutput(LinearTanh):
    """As if the output's gradient were all ones: right only for E = Σ y."""

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, w, y = ctx.saved_tensors
        d = torch.ones_like(g) * (1 - y * y)
        return d @ w.t(), x.t() @ d


class WrongSign(LinearTanh):
    """The weight's gradient with the wrong sign."""

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, w, y = ctx.saved_tensors
        d = g * (1 - y * y)
        return d @ w.t(), -(x.t() @ d)


class SlightlyOff(LinearTanh):
    """1% too large for x: above both tolerances (gradcheck's rtol is 1e-3)."""

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, w, y = ctx.saved_tensors
        d = g * (1 - y * y)
        return 1.01 * (d @ w.t()), x.t() @ d


class ConstantOffset(Function):
    """x ⊙ w for two 4-vectors; the gradient of w has 0.1 added to every entry (a structured
    error that random sign directions can cancel)."""

    @staticmethod
    def forward(ctx, x, w):  # type: ignore[override]
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, w = ctx.saved_tensors
        return g * w, g * x + 0.1


class TwoOutputs(Function):
    """(sin x, x ⊙ y), right."""

    @staticmethod
    def forward(ctx, x, y):  # type: ignore[override]
        ctx.save_for_backward(x, y)
        return torch.sin(x), x * y

    @staticmethod
    def backward(ctx, g1, g2):  # type: ignore[override]
        x, y = ctx.saved_tensors
        return g1 * torch.cos(x) + g2 * y, g2 * x


class TwoOutputsBad(TwoOutputs):
    """The second output's gradient for y forgets x."""

    @staticmethod
    def backward(ctx, g1, g2):  # type: ignore[override]
        x, y = ctx.saved_tensors
        return g1 * torch.cos(x) + g2 * y, g2


class ModernSoftplusBad(ModernSoftplus):
    """Its backward uses softplus′ = softplus (wrong)."""

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return g * F.softplus(x)


def relu_net(x: Tensor, w: Tensor) -> Tensor:
    return torch.relu(x @ w)


def exp_big(x: Tensor) -> Tensor:
    return torch.exp(3 * x)


def ignores_second(x: Tensor, y: Tensor) -> Tensor:
    return 2 * x


def _bad_function() -> Callable[..., Tensor]:
    fn, _ = resolve_function(f"{EXAMPLES / 'bad_function.py'}:ScaledSoftplus")
    return fn


CASES: list[tuple[str, Callable[..., Tensor], list[tuple[int, ...]], bool]] = [
    ("plain tanh(x@w)", lambda x, w: torch.tanh(x @ w), [(3, 4), (4, 5)], True),
    ("LinearTanh", LinearTanh.apply, [(3, 4), (4, 5)], True),
    ("IgnoresGradOutput", IgnoresGradOutput.apply, [(3, 4), (4, 5)], False),
    ("WrongSign", WrongSign.apply, [(3, 4), (4, 5)], False),
    ("SlightlyOff", SlightlyOff.apply, [(3, 4), (4, 5)], False),
    ("ConstantOffset", ConstantOffset.apply, [(4,), (4,)], False),
    ("TwoOutputs", TwoOutputs.apply, [(5,), (5,)], True),
    ("TwoOutputsBad", TwoOutputsBad.apply, [(5,), (5,)], False),
    ("ModernSoftplus", ModernSoftplus.apply, [(2, 3)], True),
    ("ModernSoftplusBad", ModernSoftplusBad.apply, [(2, 3)], False),
    ("plain_mix", plain_mix, [(3, 4), (3, 4)], True),
    ("relu_net", relu_net, [(4, 3), (3, 6)], True),
    ("exp_big", exp_big, [(6,)], True),
    ("ignores_second", ignores_second, [(3,), (2,)], True),
    ("examples/bad_function.py:ScaledSoftplus", _bad_function(), [(3, 4), (4,)], False),
]


@pytest.mark.parametrize("mode", ["full", "fast"])
@pytest.mark.parametrize(("name", "fn", "shapes", "right"), CASES, ids=[c[0] for c in CASES])
def test_verdict_agrees_with_gradcheck(name, fn, shapes, right, mode):
    xs = _inputs(shapes)
    report = percgrad.check(fn, *xs, check=mode)
    theirs = torch.autograd.gradcheck(
        fn, tuple(x.clone().requires_grad_(True) for x in xs), fast_mode=mode == "fast",
        raise_exception=False)
    assert report.check.method == mode
    assert report.check.passed is bool(theirs) is right, (report.check, theirs)


def test_the_worst_entry_names_the_input_with_the_wrong_backward():
    report = percgrad.check(f"{EXAMPLES / 'bad_function.py'}:ScaledSoftplus", shapes="3x4,4",
                            check="full")
    groups = {g.name: g for g in report.check.groups}
    assert set(groups) == {"x", "w"}
    assert groups["x"].passed and groups["x"].rel_error < 1e-8
    w = groups["w"]
    assert w.passed is False and w.worst is not None
    assert w.worst.name.startswith("w[")
    assert report.settings["shapes"] == [[3, 4], [4]]
    # a disagreement is confirmed by two steps that agree with each other, not with autograd
    assert w.worst.settled is not None and not w.worst.agreed and len(w.worst.ladder) >= 2
    pair = w.worst.ladder[w.worst.settled:w.worst.settled + 2]
    assert abs(pair[0].value - pair[1].value) < 1e-6 * abs(w.worst.numeric)
    assert w.worst.rel_error > 0.1


def test_numbers_are_the_gradient_of_v_dot_f():
    """The analytic side is autograd's ∂(v·f)/∂x for the reported cotangent, and the numeric
    side matches the hand-computed derivative of softplus(x)·w."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    w = torch.randn(4, generator=gen, dtype=torch.float64)
    def scaled(x: Tensor, w: Tensor) -> Tensor:
        return F.softplus(x) * w

    report = percgrad.check(scaled, x, w, check="full")
    assert report.check.passed
    assert report.values, "full check of small inputs keeps every entry"
    from percgrad.engines.user_data import random_tensor
    from percgrad.gradcheck.function import COTANGENT_SALT

    v = random_tensor((3, 4), 0, torch.float64, salt=COTANGENT_SALT)
    by_name = {item["name"]: item for item in report.values}
    expected_w = (v * F.softplus(x)).sum(0)
    expected_x = v * w * torch.sigmoid(x)
    numeric_w = torch.tensor(by_name["w"]["numeric"], dtype=torch.float64)
    analytic_x = torch.tensor(by_name["x"]["analytic"], dtype=torch.float64)
    assert torch.allclose(numeric_w, expected_w, rtol=1e-8, atol=1e-10)
    assert torch.allclose(analytic_x, expected_x.reshape(-1))


def test_kink_is_left_out_and_counted():
    """relu at exactly 0: autograd takes relu′(0) = 0, the central difference the mean ½ at
    every step; that is no derivative, so it is left out and counted (gradcheck fails here)."""
    x = torch.tensor([0.0, 0.7, -1.3], dtype=torch.float64)
    report = percgrad.check(torch.relu, x, check="full")
    assert report.check.kinks == 1
    assert report.check.passed is True
    assert report.check.groups[0].judged == 2


def test_a_kink_where_autograd_takes_the_mean_needs_no_exclusion():
    """abs at 0: autograd's 0 is the central difference's 0 too, so it simply agrees."""
    x = torch.tensor([0.0, 0.7, -1.3], dtype=torch.float64)
    report = percgrad.check(torch.abs, x, check="full")
    assert report.check.kinks == 0 and report.check.passed is True


def test_float32_is_judged_at_float32_tolerance():
    x, w = _inputs([(3, 4), (4, 5)])
    report = percgrad.check(LinearTanh.apply, x, w, dtype="float32")
    assert report.check.tolerance == 1e-3
    assert report.check.passed is True


def test_a_nondeterministic_function_is_not_a_failure():
    (x,) = _inputs([(5,)])
    report = percgrad.check(lambda t: t * torch.rand(()), x)
    assert report.check.passed is None
    assert report.check.reason == "nondeterministic"
    assert not report.failed


def test_api_refuses_like_the_cli():
    with pytest.raises(PercgradError) as err:
        percgrad.check(plain_mix)
    assert err.value.option == "--shapes"
    with pytest.raises(PercgradError) as err:
        percgrad.check(plain_mix, *_inputs([(2,), (2,)]), check="sideways")
    assert err.value.option == "--check"


# ---------------------------------------------------------------- the engine itself


def test_check_function_judges_every_floating_point_input_and_passes_the_rest():
    from percgrad.engines.check import check_function

    x, w = _inputs([(3, 4), (4, 5)])
    report = check_function(lambda x, w, scale: scale * torch.tanh(x @ w), [x, w, 2.0],
                            names=["x", "w", "scale"], method="full", function="scaled")
    assert [name for name, _ in report.inputs] == ["x", "w"]
    assert report.function == "scaled" and report.check.passed is True
    wrong = check_function(WrongSign.apply, [x, w], names=["x", "w"], method="full")
    assert wrong.failed and {g.name for g in wrong.check.groups if g.passed is False} == {"w"}
    with pytest.raises(PercgradError) as err:
        check_function(lambda n: n, [3])
    assert err.value.option == "--shapes"
