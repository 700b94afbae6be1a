"""No wrong backward passes the check, and every right one does (issue: "a check no wrong backward
can fool"). Random smooth functions of two tensors; their backward is autograd's own vjp, then
corrupted: scaled by 10^k for k in −12…300, made inf or NaN, zeroed, sign-flipped, or wrong in one
entry. The check (``percgrad.check``, float64, full and fast) must fail every corrupted one and pass
every uncorrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import percgrad

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

FUNCTIONS: dict[str, Fn] = {
    "sin-scale": lambda x, w: torch.sin(x) * w,
    "tanh-matmul": lambda x, w: torch.tanh(x @ w[:, None] + 0.3),
    "exp-square": lambda x, w: torch.exp(0.3 * x) + (x * w) ** 2,
    "softplus-sum": lambda x, w: torch.nn.functional.softplus(x * w).sum(dim=1),
    "sigmoid-product": lambda x, w: torch.sigmoid(x) * x * w.sum(),
    "log1p-square": lambda x, w: torch.log1p(x**2 + w**2),
}

CORRUPTIONS = ("scale", "inf", "nan", "zero", "sign", "one-entry")


def corrupt(g: torch.Tensor, how: str, k: int) -> torch.Tensor:
    """A wrong gradient from the right one ``g``."""
    if how == "scale":
        return g * 10.0**k if k < 300 else g * 1e300
    if how == "inf":
        return torch.full_like(g, math.inf)
    if how == "nan":
        return torch.full_like(g, math.nan)
    if how == "zero":
        return torch.zeros_like(g)
    if how == "sign":
        return -g
    out = g.clone()
    out.view(-1)[0] += float(g.abs().max()) + 1.0
    return out


def with_backward(fn: Fn, how: str | None, k: int, which: int) -> Callable[..., torch.Tensor]:
    """``fn`` as an autograd.Function whose backward is autograd's vjp, input ``which``'s
    corrupted by ``how`` (None: left right)."""

    class Wrapped(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x, w)
            return fn(x, w)

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x, w = (t.detach().requires_grad_(True) for t in ctx.saved_tensors)
            with torch.enable_grad():
                gx, gw = torch.autograd.grad(fn(x, w), (x, w), g)
            grads = [gx, gw]
            if how is not None:
                grads[which] = corrupt(grads[which], how, k)
            return grads[0], grads[1]

    return Wrapped.apply


def true_gradients(fn: Fn, x: torch.Tensor, w: torch.Tensor) -> list[torch.Tensor]:
    xs, ws = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    out = fn(xs, ws)
    return list(torch.autograd.grad(out, (xs, ws), torch.ones_like(out)))


def inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(3, 4, generator=gen, dtype=torch.float64),
            torch.randn(4, generator=gen, dtype=torch.float64))


def really_wrong(right: torch.Tensor, how: str, k: int) -> bool:
    """The corruption changes the gradient well beyond the tolerance (1e-6 relative)."""
    wrong = corrupt(right, how, k)
    if not bool(torch.isfinite(wrong).all()):
        return True
    gap = float((wrong - right).abs().max())
    scale = max(float(wrong.abs().max()), float(right.abs().max()), 1e-300)
    return gap / scale > 1e-3


SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@SETTINGS
@given(name=st.sampled_from(sorted(FUNCTIONS)), how=st.sampled_from(CORRUPTIONS),
       k=st.integers(-12, 300).filter(lambda k: k != 0), which=st.integers(0, 1),
       seed=st.integers(0, 10_000), method=st.sampled_from(["full", "fast"]))
def test_no_wrong_backward_passes(name: str, how: str, k: int, which: int, seed: int, method: str) -> None:
    fn = FUNCTIONS[name]
    x, w = inputs(seed)
    right = true_gradients(fn, x, w)[which]
    assume(float(right.abs().max()) > 1e-3 and really_wrong(right, how, k))
    report = percgrad.check(with_backward(fn, how, k, which), x, w, check=method)
    assert report.check.passed is False, (name, how, k, which, method, report.check)
    assert report.failed


@settings(max_examples=25, deadline=None, derandomize=True)
@given(name=st.sampled_from(sorted(FUNCTIONS)), seed=st.integers(0, 10_000),
       method=st.sampled_from(["full", "fast"]))
def test_every_right_backward_passes(name: str, seed: int, method: str) -> None:
    x, w = inputs(seed)
    report = percgrad.check(with_backward(FUNCTIONS[name], None, 0, 0), x, w, check=method)
    assert report.check.passed is True, (name, seed, method, report.check)
    assert not report.failed


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_a_wrong_backward_in_the_issue_fails_and_says_where(how: str) -> None:
    x, w = inputs(7)
    report = percgrad.check(with_backward(FUNCTIONS["sin-scale"], how, 200, 0), x, w)
    check = report.check
    assert check.passed is False
    worst = check.worst
    assert worst is not None and worst.name == "x" and worst.passed is False


def test_left_out_entries_never_read_every_entry() -> None:
    """relu has a kink at 0, where autograd says 0 and the central difference 1: the entry is
    left out (0 lies between the one-sided slopes 0 and 2), and the sentence says how many were
    judged."""

    def absolute(x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x) * 2

    x = torch.tensor([[0.0, 1.0, -2.0], [0.5, -0.25, 3.0]], dtype=torch.float64)
    report = percgrad.check(absolute, x)
    doc = report.to_dict()
    assert report.check.passed is True and report.check.kinks == 1
    assert "at every entry" not in doc["check"]["sentence"]
    assert "at the 5 entry(s) it could judge, of 6" in doc["check"]["sentence"]


def test_a_wrong_value_at_a_kink_fails() -> None:
    """At relu's kink any value between the one-sided slopes is a valid derivative; 1e9 is not."""

    class Kinked(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return torch.relu(x) * 2

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return torch.where(x == 0, 1e9, 2.0 * (x > 0)) * g

    x = torch.tensor([[0.0, 1.0, -2.0], [0.5, -0.25, 3.0]], dtype=torch.float64)
    report = percgrad.check(Kinked.apply, x)
    assert report.check.passed is False
    assert report.check.worst is not None and report.check.worst.worst is not None
    assert report.check.worst.worst.index == (0, 0)
