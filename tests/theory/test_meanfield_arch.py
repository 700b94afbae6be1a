"""percgrad.theory.meanfield for residual and layer-normalised chains: the plain chain unchanged,
Monte Carlo chains against the predicted q and per-layer factors, the finite-width gain of a
layer norm, σ_w² cancelling under a layer norm, residual factors 1 + χ, a finite prediction for
every catalog activation and architecture, and bad inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from arch_util import predict_arch
from percgrad import catalog
from percgrad.catalog import LN_EPS, archs
from percgrad.network.layers import layernorm
from percgrad.theory import meanfield as theory
from percgrad.theory.meanfield import predict
from percgrad.theory.moments import mean_phi, moments

ARCHS = archs()

ACTIVATIONS = ["identity", "relu", "leaky-relu", "sigmoid", "tanh", "gelu"]


# ---------------------------------------------------------------- plain chains unchanged


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_plain_arch_is_the_classical_recursion(activation: str) -> None:
    sw2, sb2, q_in = [1.3, 0.7, 2.5, 1.9, 4.0], [0.0, 0.1, 0.02, 0.0, 0.3], 0.9
    th = predict_arch(activation, sw2, sb2, q_in, "plain", mean_in=0.4, width=64)
    q = [sw2[0] * q_in + sb2[0]]
    for k in range(1, len(sw2)):
        q.append(sw2[k] * moments(activation, q[-1])[0] + sb2[k])
    chi = [sw2[k + 1] * moments(activation, q[k])[1] for k in range(len(sw2) - 1)]
    assert th.q == q
    assert th.chi == chi
    assert th.v == q
    assert th.p == [moments(activation, qk)[0] for qk in q]
    assert th.mean == [mean_phi(activation, qk) for qk in q]
    default = predict(activation, sw2, sb2, q_in)
    assert (default.q, default.chi, default.p, default.mean) == (th.q, th.chi, th.p, th.mean)


# ---------------------------------------------------------------- Monte Carlo chains

WIDTH, DEPTH, BATCH, SEEDS, NARROW_IN = 512, 12, 16, 6, 48
Q_IN, MEAN_IN = 1.0, 0.3
GAINS = {"tanh": (1.5, 0.05), "sigmoid": (4.0, 0.05), "relu": (2.0, 0.0), "identity": (1.0, 0.0)}
"""(σ_w², σ_b²) per activation: a variety of regimes (sigmoid vanishes in a plain chain)."""


PHI_TORCH = {
    "identity": (lambda y: y, torch.ones_like),
    "relu": (torch.relu, lambda y: (y > 0).to(y.dtype)),
    "sigmoid": (torch.sigmoid, lambda y: torch.sigmoid(y) * (1.0 - torch.sigmoid(y))),
    "tanh": (torch.tanh, lambda y: 1.0 - torch.tanh(y) ** 2),
}


def _randn(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def _inputs(gen: torch.Generator, width: int) -> torch.Tensor:
    """Rows with exactly mean MEAN_IN and mean square Q_IN (no sampling noise in q_in)."""
    z = _randn(gen, BATCH, width)
    z = (z - z.mean(1, keepdim=True)) / z.std(1, correction=0, keepdim=True)
    return MEAN_IN + math.sqrt(Q_IN - MEAN_IN**2) * z


def _layer_norm(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    c = a - a.mean(1, keepdim=True)
    sd = torch.sqrt((c * c).mean(1, keepdim=True) + LN_EPS)
    return c / sd, sd


def _chain(arch: str, activation: str, x: torch.Tensor, weights: list[torch.Tensor],
           biases: list[torch.Tensor], g_out: torch.Tensor,
           residual_from: int = 1) -> tuple[np.ndarray, list[float]]:
    """Forward and hand-written backward of a chain: (the means of a_k², h_k² and h_k for
    k = 1..D, and ‖δ_k‖² over the batch)."""
    phi, dphi = PHI_TORCH[activation]
    layernorm, residual = arch.endswith("layernorm"), arch.startswith("residual")
    h, tape, stats = x, [], []
    for k, (w, b) in enumerate(zip(weights, biases)):
        a = h @ w.T + b
        y, sd = _layer_norm(a) if layernorm else (a, None)
        skip = residual and k + 1 >= residual_from
        tape.append((w, y, sd, skip))
        h = h + phi(y) if skip else phi(y)
        stats.append([float((a * a).mean()), float((h * h).mean()), float(h.mean())])
    g, norms = g_out, []
    for w, y, sd, skip in reversed(tape):
        u = dphi(y) * g
        if sd is not None:  # backward of (a − mean) / sqrt(var + ε)
            u = (u - u.mean(1, keepdim=True) - y * (u * y).mean(1, keepdim=True)) / sd
        norms.append(float((u * u).sum()))
        g = g + u @ w if skip else u @ w
    return np.array(stats), norms[::-1]


def _cases(arch: str) -> list[tuple[str, int]]:
    cases = [(act, 1) for act in GAINS]
    if arch.startswith("residual"):  # a narrow input into a plain first layer
        cases += [("relu", 2), ("tanh", 2)]
    return cases


def _simulate(arch: str, seeds: range = range(1000, 1000 + SEEDS)
              ) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    """Per case, (seed × layer × [mean a_k², mean h_k², mean h_k], seed × layer × log of the
    measured ‖δ_k‖²/‖δ_{k+1}‖²). Every case of a seed shares the same standard-normal weights,
    scaled by its gains."""
    stats: dict[tuple[str, int], list[np.ndarray]] = {case: [] for case in _cases(arch)}
    logs: dict[tuple[str, int], list[np.ndarray]] = {case: [] for case in _cases(arch)}
    for seed in seeds:
        gen = torch.Generator().manual_seed(seed)
        z = [_randn(gen, WIDTH, WIDTH) for _ in range(DEPTH)]
        z_narrow = _randn(gen, WIDTH, NARROW_IN)
        zb = [_randn(gen, WIDTH) for _ in range(DEPTH)]
        x_wide, x_narrow = _inputs(gen, WIDTH), _inputs(gen, NARROW_IN)
        g_out = _randn(gen, BATCH, WIDTH)  # independent of the forward pass
        for act, residual_from in stats:
            sw2, sb2 = GAINS[act]
            zs = [z_narrow, *z[1:]] if residual_from == 2 else z
            weights = [m * math.sqrt(sw2 / m.shape[1]) for m in zs]
            biases = [b * math.sqrt(sb2) for b in zb]
            x = x_narrow if residual_from == 2 else x_wide
            measured, norms = _chain(arch, act, x, weights, biases, g_out, residual_from)
            stats[act, residual_from].append(measured)
            logs[act, residual_from].append(np.log(np.array(norms[:-1]) / np.array(norms[1:])))
    return {case: (np.array(stats[case]), np.array(logs[case])) for case in stats}


def _predicted(arch: str, act: str, residual_from: int) -> theory.Theory:
    sw2, sb2 = GAINS[act]
    return predict_arch(act, [sw2] * DEPTH, [sb2] * DEPTH, Q_IN, arch, mean_in=MEAN_IN, width=WIDTH,
                   residual_from=residual_from)


CRITICAL = {("plain", "relu"), ("residual", "relu")}
"""Chains whose q_k has no fixed point to return to (ReLU at σ_w² = 2, ReLU residual growth):
log q_k does a random walk of variance ∝ k/N over the weights, so the seed-average of a_k² is
a heavy-tailed estimate of E[a_k²] and needs a wider tolerance end to end."""


def _one_step(arch: str, act: str, residual_from: int, measured: np.ndarray) -> np.ndarray:
    """Seed × layer × [q_k, p_k, μ_k] by the mean-field map of one layer applied to the measured
    p_{k−1}, μ_{k−1} (for q) and the measured q_k (for p and μ)."""
    sw2, sb2 = GAINS[act]
    out = np.zeros_like(measured)
    for seed, layers in enumerate(measured):
        p_prev, mean_prev = Q_IN, MEAN_IN
        for k, (q, p, mean) in enumerate(layers):
            v = q / (q + LN_EPS) if arch.endswith("layernorm") else q
            s, m = moments(act, v)[0], mean_phi(act, v)
            residual = arch.startswith("residual") and k + 1 >= residual_from
            out[seed, k] = [sw2 * p_prev + sb2, p_prev + 2 * mean_prev * m + s if residual else s,
                            mean_prev + m if residual else m]
            p_prev, mean_prev = p, mean
    return out


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_monte_carlo_chain_matches_prediction(arch: str) -> None:
    for (act, residual_from), (measured, logs) in _simulate(arch).items():
        th = _predicted(arch, act, residual_from)
        label = f"{arch}/{act}/residual_from={residual_from}"
        chi = np.array(th.chi)
        assert np.all(np.isfinite(chi)) and np.all(chi > 0), label
        # ‖δ_k‖²/‖δ_{k+1}‖²: geometric mean over seeds and layers, and the median over layers.
        measured_geo = math.exp(logs.mean())
        predicted_geo = math.exp(np.log(chi).mean())
        assert measured_geo == pytest.approx(predicted_geo, rel=0.10), label
        per_layer = np.exp(logs.mean(axis=0)) / chi
        assert float(np.median(per_layer)) == pytest.approx(1.0, abs=0.10), (label, per_layer)
        # q_k end to end: the mean of a_k² over the batch and the seeds.
        q_ratio = measured[:, :, 0].mean(axis=0) / np.array(th.q)
        geo_tol, layer_tol = (0.15, 0.30) if (arch, act) in CRITICAL else (0.03, 0.10)
        assert math.exp(np.log(q_ratio).mean()) == pytest.approx(1.0, abs=geo_tol), (label, q_ratio)
        assert np.all(np.abs(q_ratio - 1) < layer_tol), (label, q_ratio)
        # One layer at a time, from the measured state: q_k, p_k and μ_k.
        step = _one_step(arch, act, residual_from, measured)
        ratio = measured[:, :, :2] / step[:, :, :2]
        assert ratio[:, :, 0].mean() == pytest.approx(1.0, abs=0.03), label
        assert ratio[:, :, 1].mean() == pytest.approx(1.0, abs=0.03), label
        mean_error = (measured[:, :, 2] - step[:, :, 2]).mean(axis=0) / np.sqrt(step[:, :, 1].mean(axis=0))
        assert np.all(np.abs(mean_error) < 0.06), (label, mean_error)


def test_hand_written_backward_matches_autograd() -> None:
    """The backward of _chain (LN included) against torch autograd of Σ g_D·h_D."""
    gen = torch.Generator().manual_seed(3)
    width, depth = 8, 3
    for arch in ARCHS:
        layernorm, residual = arch.endswith("layernorm"), arch.startswith("residual")
        for act, (phi, _) in PHI_TORCH.items():
            x = _randn(gen, 2, width)
            weights = [_randn(gen, width, width) / math.sqrt(width) for _ in range(depth)]
            biases = [0.1 * _randn(gen, width) for _ in range(depth)]
            g_out = _randn(gen, 2, width)
            _, norms = _chain(arch, act, x, weights, biases, g_out, residual_from=2)
            h, pre = x.clone().requires_grad_(), []
            for k, (w, b) in enumerate(zip(weights, biases)):
                a = h @ w.T + b
                a.retain_grad()
                pre.append(a)
                y = torch.nn.functional.layer_norm(a, (width,), eps=LN_EPS) if layernorm else a
                h = h + phi(y) if residual and k + 1 >= 2 else phi(y)
            (h * g_out).sum().backward()
            expected = [float((a.grad * a.grad).sum()) for a in pre]  # type: ignore[operator]
            assert norms == pytest.approx(expected, rel=1e-10), (arch, act)


# ---------------------------------------------------------------- layer norm


@pytest.mark.parametrize("width", [8, 16, 64])
def test_layer_norm_gain_at_finite_width(width: int) -> None:
    """Through LN(a), a with N independent N(0, q) entries and g independent of it,
    E‖δ‖² / E‖g‖² = (N − 2)/((N − 3) q + N ε): the projection keeps N − 2 of N dimensions and
    E[1/var] = N/((N − 3) q) for the biased variance. (1 − 2/N)/(q + ε) would be 0.75 at N = 8
    where this is 1.2."""
    q, rows = 2.5, 400_000 // width
    gen = torch.Generator().manual_seed(11)
    a = math.sqrt(q) * _randn(gen, rows, width)
    g = _randn(gen, rows, width)
    y, sd = _layer_norm(a)
    delta = (g - g.mean(1, keepdim=True) - y * (g * y).mean(1, keepdim=True)) / sd
    measured = float((delta * delta).sum() / (g * g).sum())
    th = predict_arch("identity", [1.0, 1.0], [0.0, 0.0], q, "layernorm", width=width)
    assert th.chi[0] == pytest.approx((width - 2) / ((width - 3) * q + width * LN_EPS), rel=1e-14)
    assert measured == pytest.approx(th.chi[0], rel=0.02)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "identity", "gelu"])
@pytest.mark.parametrize("arch", ["layernorm", "residual-layernorm"])
def test_layer_norm_without_bias_cancels_sigma_w2(
    activation: str, arch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    depth, width = 8, 256

    def middle(sw2: float) -> list[float]:
        return predict_arch(activation, [sw2] * depth, [0.0] * depth, 1.0, arch, width=width).chi[2:]

    # With the default ε, σ_w² enters only through ε/q_k: well below 1e-4 relative.
    for sw2 in (0.5, 4.0):
        assert middle(sw2) == pytest.approx(middle(1.0), rel=1e-4)
    monkeypatch.setattr(layernorm, "LN_EPS", 0.0)
    for sw2 in (0.5, 4.0):
        assert middle(sw2) == pytest.approx(middle(1.0), rel=1e-12)
    if activation == "relu" and arch == "layernorm":
        # d = ½ and s = ½ at v = 1: χ = (N − 2)/(N − 3) exactly when ε = 0.
        assert middle(2.0) == pytest.approx([(width - 2) / (width - 3)] * (depth - 3), rel=1e-14)
    if arch == "layernorm":
        d, s = moments(activation, 1.0)[1], moments(activation, 1.0)[0]
        assert middle(1.0) == pytest.approx([d / s * (width - 2) / (width - 3)] * (depth - 3), rel=1e-14)


# ---------------------------------------------------------------- residual chains


@pytest.mark.parametrize("sigma_w2", [0.1, 0.5, 1.0, 3.0])
def test_residual_identity_factor_is_one_plus_sigma_w2(sigma_w2: float) -> None:
    th = predict_arch("identity", [sigma_w2] * 6, [0.0] * 6, 1.0, "residual")
    assert th.chi == pytest.approx([1.0 + sigma_w2] * 5, rel=1e-15)
    # ‖h‖² grows by (1 + σ_w²) per layer, q likewise.
    assert th.p == pytest.approx([(1 + sigma_w2) ** (k + 1) for k in range(6)], rel=1e-14)
    assert th.q == pytest.approx([sigma_w2 * (1 + sigma_w2) ** k for k in range(6)], rel=1e-14)


def test_residual_tanh_small_gain_is_one_plus_chi() -> None:
    sw2, depth = 0.1, 10
    th = predict_arch("tanh", [sw2] * depth, [0.0] * depth, 1.0, "residual")
    chi = [1.0 + sw2 * moments("tanh", qk)[1] for qk in th.q[:-1]]
    assert th.chi == pytest.approx(chi, rel=0.02)
    d = [moments("tanh", qk)[1] for qk in th.q]
    exact = [d[k] / d[k + 1] + sw2 * d[k] for k in range(depth - 1)]
    assert th.chi == pytest.approx(exact, rel=1e-14)


def test_residual_mean_and_mean_square_recursion() -> None:
    sw2, sb2, mean_in, q_in = 2.0, 0.1, 0.5, 1.5
    th = predict_arch("relu", [sw2] * 4, [sb2] * 4, q_in, "residual", mean_in=mean_in)
    p, mu = q_in, mean_in
    for k in range(4):
        q = sw2 * p + sb2
        m = math.sqrt(q / (2 * math.pi))
        p, mu = p + 2 * mu * m + q / 2, mu + m
        assert th.q[k] == pytest.approx(q, rel=1e-14)
        assert th.p[k] == pytest.approx(p, rel=1e-14)
        assert th.mean[k] == pytest.approx(mu, rel=1e-14)


def test_residual_from_keeps_earlier_layers_plain() -> None:
    sw2, sb2 = [1.0, 2.0, 1.5, 0.8], [0.0] * 4
    plain = predict("tanh", sw2, sb2, 1.0)
    late = predict_arch("tanh", sw2, sb2, 1.0, "residual", residual_from=3)
    assert late.q[:3] == plain.q[:3]
    assert late.chi[0] == plain.chi[0]  # layer 2 is plain
    r = [moments("tanh", qk)[1] for qk in late.q]
    assert late.chi[1] == pytest.approx(sw2[2] * r[1] + r[1] / r[2], rel=1e-14)
    assert late.p[2] == pytest.approx(late.p[1] + moments("tanh", late.q[2])[0], abs=1e-14)
    none = predict_arch("tanh", sw2, sb2, 1.0, "residual", residual_from=9)
    assert (none.q, none.chi) == (plain.q, plain.chi)


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("arch", ["layernorm", "residual-layernorm"])
def test_layer_norm_needs_a_width(arch: str) -> None:
    with pytest.raises(ValueError, match="width"):
        predict_arch("tanh", [1.0] * 3, [0.0] * 3, 1.0, arch)
    with pytest.raises(ValueError, match="width"):
        predict_arch("tanh", [1.0] * 3, [0.0] * 3, 1.0, arch, width=0)


def test_unknown_arch_and_bad_residual_from() -> None:
    with pytest.raises(ValueError, match="architecture"):
        predict_arch("tanh", [1.0] * 3, [0.0] * 3, 1.0, "densenet")
    with pytest.raises(ValueError, match="residual_from"):
        predict_arch("tanh", [1.0] * 3, [0.0] * 3, 1.0, "residual", residual_from=0)


def test_tiny_layer_norm_passes_no_gradient() -> None:
    # LN over 1 or 2 units is constant (0, or ±1): nothing flows back.
    for width in (1, 2):
        th = predict_arch("relu", [1.0] * 3, [0.0] * 3, 1.0, "layernorm", width=width)
        assert th.chi == [0.0, 0.0]


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("arch", ARCHS)
def test_huge_gains_give_non_finite_not_an_error(activation: str, arch: str) -> None:
    depth = 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        th = predict_arch(activation, [1e308] * depth, [1e308] * depth, 10.0, arch, mean_in=1.0, width=128)
        summaries = (th.mean_chi, th.depth_scale)
    assert not all(math.isfinite(x) for x in th.q + th.chi + th.p)
    assert all(x is None or isinstance(x, float) for x in summaries)


# ---------------------------------------------------------------- every catalog activation and architecture

ACTS = catalog.ACTIVATION_NAMES


@pytest.mark.parametrize("arch", catalog.archs())
@pytest.mark.parametrize("activation", ACTS)
def test_predict_is_finite_for_every_activation_and_arch(activation, arch):
    depth = 5
    for sigma_w2, sigma_b2, residual_from in ((1.0, 0.0, 1), (2.0, 0.05, 2), (0.5, 0.1, 1)):
        th = predict_arch(activation, [sigma_w2] * depth, [sigma_b2] * depth, 1.0, arch,
                          width=8, residual_from=residual_from)
        assert len(th.q) == len(th.v) == len(th.p) == len(th.mean) == depth
        assert len(th.chi) == depth - 1
        for what in ("q", "v", "p", "mean", "chi"):
            values = getattr(th, what)
            assert all(math.isfinite(v) for v in values), (what, values)
        assert all(q > 0 for q in th.q)
        assert all(c > 0 for c in th.chi), th.chi
        assert th.mean_chi is not None and math.isfinite(th.mean_chi)
