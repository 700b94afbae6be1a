"""The hand-derived backward pass against PyTorch autograd, and against a plain torch.nn model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from percgrad.engines import perceptron as experiment
from percgrad.errors import PercgradError
from percgrad.network.functions import LEAKY_SLOPE
from percgrad.spec.run import ACTIVATION_NAMES, INIT_NAMES, Spec

TOL = 1e-10
ARCHS = {"single": (3, 1), "layer": (3, 4), "hidden": (3, 5, 4, 2)}


def _assert_agree(p, relative_error, tol: float = TOL) -> None:
    """Weights, biases and deltas of the analytic pass equal autograd's, layer by layer."""
    net = p.net
    assert len(p.analytic.weights) == len(p.autograd.weights) == net.depth
    assert len(p.analytic.deltas) == len(p.autograd.deltas) == net.depth
    for k in range(net.depth):
        g_an, g_ag = p.analytic.weights[k], p.autograd.weights[k]
        assert g_an.shape == net.weights[k].shape
        assert g_an.dtype == net.weights[k].dtype
        assert relative_error(g_an, g_ag) <= tol, f"W{k + 1}"
        b_an, b_ag = p.analytic.biases[k], p.autograd.biases[k]
        if net.biases[k] is None:
            assert b_an is None and b_ag is None
        else:
            assert b_an is not None and b_ag is not None
            assert b_an.shape == net.biases[k].shape
            assert relative_error(b_an, b_ag) <= tol, f"b{k + 1}"
        d_an, d_ag = p.analytic.deltas[k], p.autograd.deltas[k]
        assert d_an.shape == p.fwd.pre[k].shape
        assert relative_error(d_an, d_ag) <= tol, f"delta{k + 1}"
    # δ_L = ∂E/∂o ⊙ φ′(a_L) is elementwise (no sums), so it must agree entry by entry.
    torch.testing.assert_close(p.analytic.deltas[-1], p.autograd.deltas[-1], rtol=tol, atol=0.0)
    assert float(p.autograd_loss) == pytest.approx(float(p.fwd.loss), rel=1e-14, abs=1e-300)


def _act_loss_params(losses=("mse", "bce")):
    return [
        pytest.param(a, lo, id=f"{a}-{lo}",
                     )
        for a in ACTIVATION_NAMES
        for lo in losses
    ]


def _meaningful(p) -> bool:
    """A run worth comparing: no layer's gradient is all zero (a dead relu net proves nothing),
    and leaky-relu has a unit on its negative side in every layer (where its slope matters)."""
    if not all(float(g.abs().max()) > 0 for g in p.autograd.weights):
        return False
    if p.spec.activation == "leaky-relu":
        return all(bool((a < 0).any()) for a in p.fwd.pre)
    return True


def _first_meaningful(passes, make_spec):
    for seed in range(7, 207):
        p = passes(make_spec(seed))
        if _meaningful(p):
            return p
    pytest.fail("no seed gave a run worth comparing")


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize(("activation", "loss"), _act_loss_params())
def test_analytic_equals_autograd(activation, loss, arch, batch, bias, passes, rel_err):
    sizes = ARCHS[arch]
    kwargs = dict(
        activation=activation, loss=loss, batch=batch, bias=bias,
        device="cpu", dtype="float64", target=(0.3,),
    )
    command = "single" if arch == "single" else "multi"
    if loss == "bce" and activation != "sigmoid":
        with pytest.raises(PercgradError) as info:
            Spec(command, sizes, **kwargs)
        assert info.value.option == "--loss"
        return
    p = _first_meaningful(passes, lambda seed: Spec(command, sizes, seed=seed, **kwargs))
    _assert_agree(p, rel_err)


@st.composite
def specs(draw, activations=ACTIVATION_NAMES):
    depth = draw(st.integers(1, 4))
    sizes = tuple(draw(st.lists(st.integers(1, 6), min_size=depth + 1, max_size=depth + 1)))
    activation = draw(st.sampled_from(activations))
    loss = draw(st.sampled_from(["mse", "bce"])) if activation == "sigmoid" else "mse"
    target = draw(st.floats(0.0, 1.0)) if loss == "bce" else draw(st.floats(-2.0, 2.0))
    return Spec(
        "multi",
        sizes,
        activation=activation,
        loss=loss,
        init=draw(st.sampled_from(INIT_NAMES)),
        gain=draw(st.floats(0.3, 3.0)),
        bias=draw(st.booleans()),
        batch=draw(st.integers(1, 4)),
        seed=draw(st.integers(0, 2**32)),
        device="cpu",
        dtype="float64",
        target=(target,),
    )


# Both fixtures are stateless functions, so sharing them across examples is safe.
_PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_PROPERTY
@given(spec=specs(ACTIVATION_NAMES))
def test_analytic_equals_autograd_property(spec, passes, rel_err):
    _assert_agree(passes(spec), rel_err)


_TORCH_ACT = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky-relu": lambda a: F.leaky_relu(a, LEAKY_SLOPE),
    "gelu": F.gelu,
    "softplus": F.softplus,
    "elu": F.elu,
    "identity": lambda a: a,
}


def _nn_reference(net, activation: str, loss: str):
    """The same network as nn.Linear layers and torch.nn.functional losses."""
    layers = []
    for w, b in zip(net.weights, net.biases):
        lin = nn.Linear(w.shape[1], w.shape[0], bias=b is not None, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(w)
            if b is not None:
                lin.bias.copy_(b)
        layers.append(lin)
    h = net.x.clone()
    pre = []
    for lin in layers:
        a = lin(h)
        a.retain_grad()
        pre.append(a)
        h = _TORCH_ACT[activation](a)
    e = F.mse_loss(h, net.t) if loss == "mse" else F.binary_cross_entropy(h, net.t)
    e.backward()
    return e.detach(), layers, [a.grad for a in pre]


@pytest.mark.parametrize(
    ("activation", "loss"),
    [p for p in _act_loss_params() if p.values[1] == "mse" or p.values[0] == "sigmoid"],
)
@pytest.mark.parametrize("sizes", [(3, 1), (3, 4), (3, 5, 4, 2)], ids=str)
def test_analytic_equals_torch_nn(activation, loss, sizes, passes, rel_err):
    def make_spec(seed: int) -> Spec:
        return Spec(
            "multi", sizes, activation=activation, loss=loss, bias=True, batch=3, seed=seed,
            device="cpu", dtype="float64", target=(0.25,),
        )

    p = _first_meaningful(passes, make_spec)
    e, layers, deltas = _nn_reference(p.net, activation, loss)
    assert float(p.fwd.loss) == pytest.approx(float(e), rel=1e-12)
    for k, lin in enumerate(layers):
        assert rel_err(p.analytic.weights[k], lin.weight.grad) <= TOL, f"W{k + 1}"
        assert rel_err(p.analytic.biases[k], lin.bias.grad) <= TOL, f"b{k + 1}"
        assert rel_err(p.analytic.deltas[k], deltas[k]) <= TOL, f"delta{k + 1}"
    torch.testing.assert_close(p.analytic.deltas[-1], deltas[-1], rtol=TOL, atol=0.0)


def _cuda_params():
    return [
        pytest.param("float64", 1e-10, id="float64"),
        pytest.param("float32", 1e-4, id="float32"),
    ]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
class TestCuda:
    """The same seed on CPU and CUDA: the same numbers, the same gradients."""

    @pytest.mark.parametrize(("dtype", "tol"), _cuda_params())
    def test_same_net_and_gradients(self, dtype, tol, passes, rel_err):
        spec = Spec("multi", (3, 5, 4, 2), activation="tanh", bias=True, batch=3, seed=5,
                    dtype=dtype)
        torch_dtype = getattr(torch, dtype)
        cpu = passes(spec, "cpu", torch_dtype)
        gpu = passes(spec, "cuda", torch_dtype)
        assert gpu.net.x.device.type == "cuda"
        assert torch.equal(cpu.net.x, gpu.net.x.cpu())
        for k in range(cpu.net.depth):
            assert torch.equal(cpu.net.weights[k], gpu.net.weights[k].cpu())
            assert torch.equal(cpu.net.biases[k], gpu.net.biases[k].cpu())
            for which in ("analytic", "autograd"):
                g_cpu = getattr(cpu, which).weights[k]
                g_gpu = getattr(gpu, which).weights[k]
                assert rel_err(g_cpu, g_gpu) <= tol, (which, k)
        _assert_agree(gpu, rel_err, tol=1e-10 if dtype == "float64" else 1e-5)

    @pytest.mark.parametrize("check", ["full", "fast"])
    def test_run_on_cuda_passes(self, check, rel_err):
        spec = Spec("multi", (3, 4, 2), bias=True, batch=2, seed=3, device="cuda",
                    dtype="float64", check=check)
        report = experiment.run(spec)
        assert report.device["type"] == "cuda"
        assert report.check.passed is True
        cpu = experiment.run(Spec("multi", (3, 4, 2), bias=True, batch=2, seed=3, device="cpu",
                                  dtype="float64", check=check))
        assert report.loss == pytest.approx(cpu.loss, rel=1e-12)
        for a, b in zip(report.layers, cpu.layers):
            assert rel_err(torch.from_numpy(a.grad.analytic),
                           torch.from_numpy(b.grad.analytic)) <= 1e-10
