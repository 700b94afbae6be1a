"""The layers one by one (Dense, LayerNorm, Residual and residual layer norm): the hand-derived
backward against autograd for every activation, layer norm against torch.nn.LayerNorm, the skip
of a residual layer, the finite differences' fast paths against the generic ones, and traces
on stacks of networks."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from percgrad.catalog import ACTIVATION_NAMES, LEAKY_SLOPE
from percgrad.gradcheck import network as numeric
from percgrad.gradcheck.compare import fast_verdict
from percgrad.network.functions import ACTIVATIONS
from percgrad.network.layers import Dense, Layer, LayerNorm, Residual
from percgrad.network.net import Net, build_net
from percgrad.network.passes import Forward, Gradients, analytic_backward, autograd_backward, forward
from percgrad.spec.run import Spec

F64 = torch.float64
TOL = 1e-10
KINDS = {
    "plain": (False, "none"),
    "residual": (True, "none"),
    "layernorm": (False, "layer"),
    "residual-layernorm": (True, "layer"),
}
NORM_KINDS = ["layernorm", "residual-layernorm"]
SKIP_KINDS = ["residual", "residual-layernorm"]

# torch.nn's own modules, independent of percgrad's bindings; an activation torch.nn lacks
# (a new catalog entry) falls back to percgrad's value, so that every entry is still covered.
_NN_ACT = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky-relu": lambda: nn.LeakyReLU(LEAKY_SLOPE),
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "identity": nn.Identity,
}


def _nn_act(name: str):
    make = _NN_ACT.get(name)
    return make() if make is not None else ACTIVATIONS[name].value


def _spec(kind: str, activation: str, *, sizes=(5, 5, 5, 5), bias=True, batch=4, seed=0,
          **kw) -> Spec:
    residual, norm = KINDS[kind]
    # A target that differs from output to output: with γ = 1, β = 0 the mean square of a
    # layer norm's output is fixed, so E of an identity LN output would hardly depend on W.
    kw.setdefault("target", tuple(0.9 - 1.8 * i / max(sizes[-1] - 1, 1) for i in range(sizes[-1])))
    return Spec("vanish", sizes, residual=residual, norm=norm, bias=bias, batch=batch,
                activation=activation, device="cpu", dtype="float64", seed=seed, **kw)


def _expected_names(kind: str, bias: bool) -> tuple[str, ...]:
    return ("W",) + (("b",) if bias else ()) + (("γ", "β") if KINDS[kind][1] == "layer" else ())


def _randomize_affine(net: Net, seed: int) -> None:
    """γ, β of every layer norm set to non-trivial values (1 and 0 at init hide mistakes)."""
    gen = torch.Generator().manual_seed(seed)
    for layer in net.layers:
        i = layer.index("γ")
        if i is None:
            continue
        gamma, beta = layer.params[i], layer.params[i + 1]
        gamma.copy_(1.0 + 0.5 * torch.randn(gamma.shape, generator=gen, dtype=F64))
        beta.copy_(0.5 * torch.randn(beta.shape, generator=gen, dtype=F64))


@dataclasses.dataclass
class _Run:
    net: Net
    fwd: Forward
    analytic: Gradients
    autograd: Gradients
    autograd_loss: torch.Tensor


def _run(net: Net) -> _Run:
    fwd = forward(net)
    an = analytic_backward(net, fwd)
    ag, e = autograd_backward(net)
    return _Run(net, fwd, an, ag, e)


def _meaningful(r, activation: str) -> bool:
    """Every parameter gradient and every δ has a non-zero entry (dead relu layers prove
    nothing), and leaky-relu has units on its negative side in every layer."""
    if not all(float(g.abs().max()) > 0 for layer in r.autograd.params for g in layer):
        return False
    if not all(float(d.abs().max()) > 0 for d in r.autograd.deltas):
        return False
    if activation == "leaky-relu":
        return all(bool((z < 0).any()) for z in r.fwd.phi_in)
    return True


def _first_meaningful(make_run, activation: str):
    for seed in range(7, 107):
        r = make_run(seed)
        if _meaningful(r, activation):
            return r
    pytest.fail("no seed gave a run worth comparing")


def _assert_agree(r, rel_err, tol: float = TOL) -> None:
    """Every parameter gradient (W, b, γ, β) and every δ of every layer: analytic = autograd."""
    net = r.net
    assert r.analytic.names == r.autograd.names == [layer.names for layer in net.layers]
    assert len(r.analytic.params) == len(r.autograd.params) == net.depth
    assert len(r.analytic.deltas) == len(r.autograd.deltas) == net.depth
    for k, layer in enumerate(net.layers):
        an, ag = r.analytic.params[k], r.autograd.params[k]
        assert len(an) == len(ag) == len(layer.params) == len(layer.names)
        for sym, g_an, g_ag, p in zip(layer.names, an, ag, layer.params):
            assert g_an.shape == p.shape, f"{sym}{k + 1}"
            assert g_an.dtype == p.dtype, f"{sym}{k + 1}"
            err = rel_err(g_an, g_ag)
            assert err <= tol, f"{sym}{k + 1} ({layer.kind}): relative error {err:.3g}"
        d_an, d_ag = r.analytic.deltas[k], r.autograd.deltas[k]
        assert d_an.shape == r.fwd.pre[k].shape
        err = rel_err(d_an, d_ag)
        assert err <= tol, f"delta{k + 1} ({layer.kind}): relative error {err:.3g}"
    assert float(r.autograd_loss) == pytest.approx(float(r.fwd.loss), rel=1e-14, abs=1e-300)


# ---------------------------------------------------------------- analytic = autograd


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_analytic_equals_autograd_every_kind(kind, activation, bias, batch, passes, rel_err):
    p = _first_meaningful(
        lambda seed: passes(_spec(kind, activation, bias=bias, batch=batch, seed=seed)), activation
    )
    names = _expected_names(kind, bias)
    assert all(layer.names == names for layer in p.net.layers)
    skip = KINDS[kind][0]
    assert all(isinstance(layer, Residual) == skip for layer in p.net.layers)
    assert all(layer.skips == skip for layer in p.net.layers)
    _assert_agree(p, rel_err)


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("kind", NORM_KINDS)
def test_analytic_equals_autograd_with_random_gamma_beta(kind, activation, bias, rel_err):
    def make(seed: int) -> _Run:
        net = build_net(_spec(kind, activation, bias=bias, batch=3, seed=seed))
        _randomize_affine(net, seed)
        return _run(net)

    r = _first_meaningful(make, activation)
    gamma = r.net.layers[0].params[r.net.layers[0].index("γ")]
    assert float((gamma - 1).abs().max()) > 0.1
    _assert_agree(r, rel_err)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("norm", ["none", "layer"])
def test_residual_chain_with_other_inputs_starts_plain(norm, activation, rel_err):
    kind = "residual" if norm == "none" else "residual-layernorm"

    def make(seed: int) -> _Run:
        net = build_net(_spec(kind, activation, sizes=(3, 5, 5, 5), seed=seed))
        _randomize_affine(net, seed)
        return _run(net)

    r = _first_meaningful(make, activation)
    first, *rest = r.net.layers
    inner_type = LayerNorm if norm == "layer" else Dense
    assert type(first) is inner_type and not first.skips
    assert first.shape == (5, 3)
    assert all(isinstance(layer, Residual) and layer.skips for layer in rest)
    assert all(type(layer.inner) is inner_type for layer in rest)
    assert [layer.kind for layer in r.net.layers] == (
        ["dense", "residual", "residual"] if norm == "none"
        else ["layernorm", "residual-layernorm", "residual-layernorm"]
    )
    _assert_agree(r, rel_err)


@st.composite
def _nets(draw):
    kind = draw(st.sampled_from(list(KINDS)))
    # A layer norm over 2 units is ±√(var/(var+ε)), constant up to ε: its gradient is O(ε), all
    # cancellation, and agrees with autograd only to ~1e-8. Layer norms get 3 units or more.
    low = 3 if KINDS[kind][1] == "layer" else 2
    depth = draw(st.integers(1, 4))
    width = draw(st.integers(low, 6))
    widths = [draw(st.one_of(st.just(width), st.integers(low, 6))) for _ in range(depth)]
    sizes = (draw(st.integers(2, 6)), *widths)
    activation = draw(st.sampled_from(ACTIVATION_NAMES))
    seed = draw(st.integers(0, 2**32))
    spec = _spec(kind, activation, sizes=sizes, bias=draw(st.booleans()),
                 batch=draw(st.integers(1, 3)), seed=seed, target=(draw(st.floats(-2.0, 2.0)),))
    return spec


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(spec=_nets())
def test_analytic_equals_autograd_property(spec, rel_err):
    net = build_net(spec)
    _randomize_affine(net, spec.seed)
    r = _run(net)
    for k, layer in enumerate(net.layers):
        assert isinstance(layer, Residual) == spec.residual_at(k)
    _assert_agree(r, rel_err, tol=1e-9)


# ---------------------------------------------------------------- layer norm = torch.nn.LayerNorm


def _ln_setup(activation: str, bias: bool, seed: int = 3):
    """A LayerNorm layer of 6 units on 4 inputs, γ and β random, its input (batch 3), and the
    same computation in torch.nn with fresh leaves."""
    net = build_net(_spec("layernorm", activation, sizes=(4, 6), bias=bias, batch=3, seed=seed))
    _randomize_affine(net, seed + 1)
    layer = net.layers[0]
    assert isinstance(layer, LayerNorm)
    w = layer.weight
    b = layer.bias
    gamma, beta = layer.params[-2], layer.params[-1]
    ln = nn.LayerNorm(w.shape[0], dtype=F64)
    with torch.no_grad():
        ln.weight.copy_(gamma)
        ln.bias.copy_(beta)
    return layer, net.x, ln, (w, b, gamma, beta)


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_layernorm_forward_equals_torch_nn(activation, bias):
    layer, x, ln, (w, b, gamma, beta) = _ln_setup(activation, bias)
    assert float((gamma - 1).abs().max()) > 0.1 and float(beta.abs().max()) > 0.1
    with torch.no_grad():
        a = nn.functional.linear(x, w, b)
        z = ln(a)
        out = _nn_act(activation)(z)
        tr = layer.forward(x)
    for mine, ref, what in ((tr.a, a, "a"), (tr.z, z, "z"), (tr.out, out, "out")):
        torch.testing.assert_close(mine, ref, rtol=1e-12, atol=1e-12, msg=what)
    # â itself: the normalised a, before γ and β.
    unit = (a - a.mean(-1, keepdim=True)) / torch.sqrt(a.var(-1, unbiased=False, keepdim=True) + ln.eps)
    torch.testing.assert_close(tr.saved[0], unit, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_layernorm_backward_equals_autograd_through_torch_nn(activation, bias, rel_err):
    layer, x, ln, (w, b, _, _) = _ln_setup(activation, bias)
    gen = torch.Generator().manual_seed(11)
    g_out = torch.randn(x.shape[0], w.shape[0], generator=gen, dtype=F64)

    h = x.detach().clone().requires_grad_(True)
    w_leaf = w.detach().clone().requires_grad_(True)
    b_leaf = None if b is None else b.detach().clone().requires_grad_(True)
    a = nn.functional.linear(h, w_leaf, b_leaf)
    a.retain_grad()
    z = ln(a)
    z.retain_grad()
    (_nn_act(activation)(z) * g_out).sum().backward()

    tr = layer.forward(x)
    g_in, grads, delta = layer.backward(g_out.clone(), tr)
    refs = [w_leaf.grad] + ([] if b_leaf is None else [b_leaf.grad]) + [ln.weight.grad, ln.bias.grad]
    assert len(grads) == len(refs) == len(layer.names)
    for sym, mine, ref in zip(layer.names, grads, refs):
        assert float(ref.abs().max()) > 0, sym
        assert rel_err(mine, ref) <= 1e-12, sym
    assert rel_err(delta, a.grad) <= 1e-12, "delta"
    assert rel_err(g_in, h.grad) <= 1e-12, "dE/dh"

    # From ∂E/∂z given fused (g_out unused: NaN would spread), the same δ and parameters.
    poison = torch.full_like(g_out, float("nan"))
    g_in2, grads2, delta2 = layer.backward(poison, tr, g_z=z.grad.detach().clone(),
                                           wants_input=False)
    assert g_in2 is None
    assert rel_err(delta2, a.grad) <= 1e-12
    for sym, mine, ref in zip(layer.names, grads2, refs):
        assert rel_err(mine, ref) <= 1e-12, sym


# ---------------------------------------------------------------- residual


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "gelu", "identity"])
@pytest.mark.parametrize("kind", SKIP_KINDS)
def test_residual_adds_its_input_and_backprops_the_skip(kind, activation, rel_err):
    net = build_net(_spec(kind, activation, sizes=(5, 5, 5), batch=3, seed=4))
    _randomize_affine(net, 5)
    layer = net.layers[1]
    assert isinstance(layer, Residual)
    inner = layer.inner.with_params(layer.params)
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(3, 5, generator=gen, dtype=F64)
    g_out = torch.randn(3, 5, generator=gen, dtype=F64)

    tr = layer.forward(x)
    inner_tr = inner.forward(x)
    assert torch.equal(tr.out, x + inner_tr.out)
    assert torch.equal(tr.a, inner_tr.a)
    assert torch.equal(tr.z, inner_tr.z)
    assert torch.equal(layer.trace(x, layer.params).out, x + inner.trace(x, inner.params).out)

    g_in, grads, delta = layer.backward(g_out.clone(), tr)
    g_inner, grads_inner, delta_inner = inner.backward(g_out.clone(), inner_tr)
    torch.testing.assert_close(g_in, g_inner + g_out, rtol=1e-15, atol=1e-15)
    for mine, ref in zip(grads, grads_inner):
        torch.testing.assert_close(mine, ref, rtol=1e-15, atol=1e-15)
    torch.testing.assert_close(delta, delta_inner, rtol=1e-15, atol=1e-15)

    h = x.clone().requires_grad_(True)
    leaves = [p.detach().clone().requires_grad_(True) for p in layer.params]
    out = layer.trace(h, leaves).out
    (out * g_out).sum().backward()
    assert rel_err(g_in, h.grad) <= 1e-12
    for sym, mine, leaf in zip(layer.names, grads, leaves):
        assert rel_err(mine, leaf.grad) <= 1e-12, sym
    # Without the skip the inner layer's own ∂E/∂h is not the answer.
    assert rel_err(g_inner, h.grad) > 1e-3


# ---------------------------------------------------------------- finite differences


def _numeric_net(kind: str, activation: str) -> Net:
    """A small float64 chain whose numeric checks are worth comparing (nothing all zero)."""
    for seed in range(3, 60):
        net = build_net(_spec(kind, activation, sizes=(4, 4, 4), bias=True, batch=2, seed=seed))
        _randomize_affine(net, seed)
        if _meaningful(_run(net), activation):
            return net
    pytest.fail("no seed gave a net worth checking")


def _wrong(grads: Gradients, layer: int = 0, factor: float = 1.01) -> Gradients:
    params = [[g * factor if (k == layer and i == 0) else g for i, g in enumerate(gs)]
              for k, gs in enumerate(grads.params)]
    return dataclasses.replace(grads, params=params)


def _verdict(num: numeric.FastProjections, tol: float = 1e-6):
    _, _, failures, kinks, unsettled = fast_verdict(num, tol, num.noise / tol, "float64")
    return [f.direction for f in failures], kinks, unsettled


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "gelu"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_full_differences_fast_paths_equal_generic(kind, activation, rel_err):
    net = _numeric_net(kind, activation)
    fast = numeric.full_gradients(net, fast_paths=True)
    generic = numeric.full_gradients(net, fast_paths=False)
    ag = _run(net).autograd
    for k, layer in enumerate(net.layers):
        for sym, f, g, fk, gk, ref in zip(layer.names, fast.params[k], generic.params[k],
                                         fast.kinks[k], generic.kinks[k], ag.params[k]):
            where = f"{sym}{k + 1} ({layer.kind})"
            assert f.shape == g.shape == ref.shape, where
            assert torch.equal(fk, gk), where
            torch.testing.assert_close(f, g, rtol=1e-9, atol=1e-9 * float(ref.abs().max()),
                                       msg=where)
            # And both are the derivative (kinks masked): ≤ 1e-6 relative to autograd.
            keep = ~fk
            assert bool(keep.any()), where
            assert rel_err(f[keep], ref[keep]) <= 1e-6, where
    assert fast.loss == generic.loss


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "gelu"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_fast_projections_fast_paths_equal_generic(kind, activation):
    net = _numeric_net(kind, activation)
    r = _run(net)
    bad = _wrong(r.analytic)
    results = {}
    for fast_paths in (True, False):
        right = numeric.fast_gradients(net, [r.analytic, r.autograd], seed=5, fast_paths=fast_paths)
        wrong = numeric.fast_gradients(net, [bad, r.autograd], seed=5, fast_paths=fast_paths)
        results[fast_paths] = (right, wrong)
    (right_f, wrong_f), (right_g, wrong_g) = results[True], results[False]
    for a, b in ((right_f, right_g), (wrong_f, wrong_g)):
        torch.testing.assert_close(a.projections, b.projections, rtol=1e-9, atol=0.0)
        assert torch.equal(a.kinks, b.kinks)
    # The numeric column does not depend on what is compared; the analytic one does.
    torch.testing.assert_close(right_f.projections[:, 0], wrong_f.projections[:, 0], rtol=0, atol=0)
    assert not torch.equal(right_f.projections[:, 1], wrong_f.projections[:, 1])
    # The same verdicts: the right gradient passes every clean direction, the wrong one fails.
    v_right_f, v_right_g = _verdict(right_f), _verdict(right_g)
    v_wrong_f, v_wrong_g = _verdict(wrong_f), _verdict(wrong_g)
    assert v_right_f == v_right_g
    assert v_wrong_f == v_wrong_g
    assert v_right_f[0] == []
    clean = numeric.FAST_DIRECTIONS - v_wrong_f[1] - v_wrong_f[2]
    assert clean > 0
    assert len(v_wrong_f[0]) == clean, v_wrong_f


# ---------------------------------------------------------------- stacked traces


P = 3


def _layer(kind: str, bias: bool = True) -> Layer:
    net = build_net(_spec(kind, "tanh", sizes=(4, 4, 4), bias=bias, batch=2, seed=8))
    _randomize_affine(net, 9)
    return net.layers[1]


def _assert_traces_equal(stacked, rows, what: str) -> None:
    for i, tr in enumerate(rows):
        for field in ("a", "z", "out"):
            torch.testing.assert_close(getattr(stacked, field)[i], getattr(tr, field),
                                       rtol=1e-12, atol=1e-14, msg=f"{what} row {i} {field}")
        assert len(stacked.saved) == len(tr.saved)
        for j, (s, t) in enumerate(zip(stacked.saved, tr.saved)):
            torch.testing.assert_close(s[i], t, rtol=1e-12, atol=1e-14, msg=f"{what} saved {j}")


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_stacked_trace_with_shared_params_equals_separate_traces(kind, bias):
    layer = _layer(kind, bias)
    gen = torch.Generator().manual_seed(12)
    hs = torch.randn(P, 2, 4, generator=gen, dtype=F64)
    stacked = layer.trace(hs, layer.params)
    assert stacked.out.shape == (P, 2, 4)
    _assert_traces_equal(stacked, [layer.trace(hs[i], layer.params) for i in range(P)], "shared")
    # The expanded (not copied) input the finite differences use.
    x = hs[0]
    expanded = layer.trace(x.expand(P, *x.shape), layer.params)
    _assert_traces_equal(expanded, [layer.trace(x, layer.params)] * P, "expanded")


@pytest.mark.parametrize("which", ["all", "each"])
@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_stacked_trace_with_stacked_params_equals_per_row_traces(kind, bias, which):
    """Every parameter stacked (P, *shape), or one stacked and the others shared (as the
    generic ``perturbed`` copies only the parameters it edits)."""
    layer = _layer(kind, bias)
    gen = torch.Generator().manual_seed(13)
    hs = torch.randn(P, 2, 4, generator=gen, dtype=F64)
    moved = [p + 0.3 * torch.randn(P, *p.shape, generator=gen, dtype=F64) for p in layer.params]
    choices = [[True] * len(moved)] if which == "all" else \
        [[i == j for i in range(len(moved))] for j in range(len(moved))]
    for stack in choices:
        params = [m if s else p for m, p, s in zip(moved, layer.params, stack)]
        stacked = layer.trace(hs, params)
        rows = [layer.trace(hs[i], [q[i] if s else q for q, s in zip(params, stack)])
                for i in range(P)]
        _assert_traces_equal(stacked, rows, f"stacked {[n for n, s in zip(layer.names, stack) if s]}")
