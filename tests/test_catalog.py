"""The completeness test: every entry of the catalog (activations, losses, inits, chain
architectures) works everywhere a name can be given, and its facts are true.

Everything here is parametrized over the catalog's own tuples, so a new entry is covered
without touching this file: through the CLI (single, multi, vanish, residual layer norm, every
init, --json), in mean-field theory, against torch autograd and torch.nn.init, and by name
(aliases, case, typos).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from arch_util import predict_arch
from percgrad import catalog
from percgrad.cli.app import app
from percgrad.errors import PercgradError
from percgrad.network import functions
from percgrad.theory import moments as theory

runner = CliRunner()

ACTS = catalog.ACTIVATION_NAMES
COMMANDS = {
    "single": ("single", "--inputs", "3"),
    "multi": ("multi", "--inputs", "3", "--hidden", "4", "--outputs", "2"),
    "vanish": ("vanish", "--depth", "4", "--width", "4"),
    "vanish-residual-ln": ("vanish", "--depth", "4", "--width", "4", "--residual", "--norm", "layer"),
    **{f"multi-init-{i}": ("multi", "--init", i) for i in catalog.INIT_NAMES},
}
UNIT_INTERVAL_MESSAGE = "bce needs outputs in (0, 1)"
REFUSED: dict[tuple[str, str], str] = {}
"""(activation, command) pairs of COMMANDS that the tool legitimately refuses with exit 2, and
the message it must give instead (none today: every activation runs every command with mse)."""


def invoke(*args: str):
    return runner.invoke(app, [*args, "--device", "cpu"])


def _no_crash(result) -> str:
    """What went wrong, for the assertion message; the result must not be a crash."""
    text = result.stdout + result.stderr
    why = f"exit {result.exit_code}: {text[-3000:]}"
    assert result.exit_code in (0, 1), why
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        why, repr(result.exception))
    assert "Traceback" not in text, why
    assert "internal error" not in text, why
    return why


# ---------------------------------------------------------------- through the CLI


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("activation", ACTS)
def test_every_activation_runs_every_command(activation, command):
    args = COMMANDS[command]
    result = invoke(*args, "--activation", activation)
    if (activation, command) in REFUSED:
        assert result.exit_code == 2, result.stdout + result.stderr
        assert REFUSED[activation, command] in result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        return
    why = _no_crash(result)
    assert result.stdout.strip(), why
    if result.exit_code == 1:  # only a failed check may exit 1, and it says so
        assert "FAIL" in result.stdout, why

    doc_result = invoke(*args, "--activation", activation, "--json")
    why = _no_crash(doc_result)
    assert doc_result.exit_code == result.exit_code, why
    doc = json.loads(doc_result.stdout)
    assert doc["command"] == args[0]
    assert doc["settings"]["activation"] == activation
    # Exit 1 is a failed check; exit 0 a passed one, or one that could prove nothing (None).
    assert (doc["check"]["passed"] is False) is (doc_result.exit_code == 1), why
    if command.startswith("multi-init-"):
        assert doc["settings"]["init"] == args[2]
    if command == "vanish-residual-ln":
        assert doc["settings"]["arch"] == "residual-layernorm"


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("command", ["single", "vanish"])
def test_bce_runs_or_is_refused_with_a_message(command, activation):
    """bce needs outputs in (0, 1): it runs with every activation that gives them and is
    refused (exit 2, a message naming --loss, no traceback) with every other."""
    result = invoke(*COMMANDS[command], "--activation", activation, "--loss", "bce",
                    "--target", "0.3")
    if catalog.ACTIVATIONS[activation].unit_interval:
        _no_crash(result)
        return
    assert result.exit_code == 2, result.stdout + result.stderr
    assert UNIT_INTERVAL_MESSAGE in result.stderr
    assert "--loss" in result.stderr
    assert repr(activation) in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("activation", ACTS)
def test_aliases_work_on_the_command_line(activation):
    info = catalog.ACTIVATIONS[activation]
    for given in (activation.upper(), *info.aliases):
        result = invoke("single", "--activation", given, "--json")
        _no_crash(result)
        assert json.loads(result.stdout)["settings"]["activation"] == activation, given


# ---------------------------------------------------------------- theory


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


def _brute_force(activation: str, q: float) -> tuple[float, float, float]:
    """(E[φ²], E[φ′²], E[φ]) for h ~ N(0, q) by the midpoint rule on 400,000 cells over ±12 sd,
    φ and φ′ from the torch bindings (not the catalog's NumPy formulas that theory reads). 0 is
    a cell edge, so a jump of φ′ there costs nothing."""
    sd = math.sqrt(q)
    cells = 400_000
    dx = 24.0 * sd / cells
    x = -12.0 * sd + dx * (np.arange(cells) + 0.5)
    weight = np.exp(-0.5 * x * x / q) * dx / math.sqrt(2.0 * math.pi * q)
    act = functions.ACTIVATIONS[activation]
    a = torch.from_numpy(x)
    with torch.no_grad():
        value = act.value(a)
        slope = act.derivative(a, value)
    phi, dphi = value.numpy(), slope.numpy()
    return float(weight @ phi**2), float(weight @ dphi**2), float(weight @ phi)


@pytest.mark.parametrize("q", [0.25, 1.0, 9.0])
@pytest.mark.parametrize("activation", ACTS)
def test_moments_equal_a_brute_force_integral(activation, q):
    e_phi2, e_dphi2, e_phi = _brute_force(activation, q)
    got_phi2, got_dphi2 = theory.moments(activation, q)
    got_phi = theory.mean_phi(activation, q)
    # E[φ] is 0 for odd φ: there it is relative to the scale √E[φ²].
    checks = (("E[φ²]", got_phi2, e_phi2, 0.0), ("E[φ′²]", got_dphi2, e_dphi2, 0.0),
              ("E[φ]", got_phi, e_phi, 1e-12 * math.sqrt(e_phi2)))
    wrong = [f"{what} = {got!r}, brute force {ref!r} (relative error {(got - ref) / ref:.2e})"
             for what, got, ref, floor in checks if got != pytest.approx(ref, rel=1e-6, abs=floor)]
    assert not wrong, f"theory of {activation} at q = {q}: " + "; ".join(wrong)


@pytest.mark.parametrize("activation", ACTS)
def test_moments_do_not_jump_where_the_quadrature_changes(activation):
    """Gauss–Hermite up to HERMITE_MAX_Q, panels beyond: the two must agree at the switch (to
    1e-4: Hermite's E[tanh′²] at q = 4 is itself only good to about 6e-5)."""
    q = theory.HERMITE_MAX_Q
    below = (*theory.moments(activation, q), theory.mean_phi(activation, q))
    above = (*theory.moments(activation, q * (1 + 1e-12)), theory.mean_phi(activation, q * (1 + 1e-12)))
    for what, lo, hi in zip(("E[φ²]", "E[φ′²]", "E[φ]"), below, above):
        assert hi == pytest.approx(lo, rel=1e-4, abs=1e-12), f"{what} of {activation}: {lo!r} → {hi!r}"


# ---------------------------------------------------------------- derivatives and facts


def _points() -> torch.Tensor:
    gen = torch.Generator().manual_seed(99)
    random = 4.0 * torch.randn(400, generator=gen, dtype=torch.float64)
    near_zero = torch.tensor([0.0, -0.0, 1e-12, -1e-12, 1e-8, -1e-8, 1e-4, -1e-4, 1e-2, -1e-2],
                             dtype=torch.float64)
    t = catalog.SOFTPLUS_THRESHOLD
    around_threshold = torch.tensor(
        [t - 1e-6, t, t + 1e-6, t + 0.5, 25.0, 40.0, 100.0, -t, -25.0, -40.0, -100.0],
        dtype=torch.float64,
    )
    return torch.cat([random, near_zero, around_threshold])


@pytest.mark.parametrize("activation", ACTS)
def test_derivative_equals_autograd_of_value(activation):
    act = functions.ACTIVATIONS[activation]
    a = _points().requires_grad_(True)
    (reference,) = torch.autograd.grad(act.value(a).sum(), a)
    with torch.no_grad():
        mine = act.derivative(a.detach(), act.value(a.detach()))
        chained = act.backprop_(torch.ones_like(a.detach()), a.detach(), act.value(a.detach()))
    assert mine.dtype == torch.float64
    torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(chained, reference, rtol=1e-12, atol=1e-12)


def test_functions_bind_every_catalog_entry():
    assert tuple(functions.ACTIVATIONS) == catalog.ACTIVATION_NAMES
    assert tuple(functions.LOSSES) == catalog.LOSS_NAMES
    for name, info in catalog.ACTIVATIONS.items():
        assert functions.ACTIVATIONS[name].info is info
        assert functions.activation(name).name == name
    for name, info in catalog.LOSSES.items():
        assert functions.LOSSES[name].info is info


def _grid(points: int = 600_001) -> torch.Tensor:
    """[-30, 30], past softplus's threshold on both sides, 0 included."""
    return torch.linspace(-30.0, 30.0, points, dtype=torch.float64)


@pytest.mark.parametrize("activation", ACTS)
def test_dphi_sup_is_the_sup_of_the_derivative(activation):
    act = functions.ACTIVATIONS[activation]
    a = _grid()
    top = float(act.derivative(a, act.value(a)).abs().max())
    sup = catalog.ACTIVATIONS[activation].dphi_sup
    assert top <= sup * (1 + 1e-12), (top, sup)  # never exceeded
    assert sup - top <= 1e-3, (top, sup)  # and nearly attained


@pytest.mark.parametrize("activation", ACTS)
def test_kink_flags_exactly_a_jump_of_the_derivative_at_zero(activation):
    act = functions.ACTIVATIONS[activation]
    a = torch.tensor([-1e-9, 1e-9], dtype=torch.float64)
    left, right = act.derivative(a, act.value(a)).tolist()
    jumps = abs(right - left) > 1e-6
    assert catalog.ACTIVATIONS[activation].kink is jumps, (left, right)
    assert act.kink is jumps


@pytest.mark.parametrize("activation", ACTS)
def test_numpy_formulas_equal_the_torch_ones(activation):
    info = catalog.ACTIVATIONS[activation]
    act = functions.ACTIVATIONS[activation]
    a = _grid(120_001)
    with torch.no_grad():
        value = act.value(a)
        slope = act.derivative(a, value)
    problems = []
    for what, formula, reference in (("np_value", info.np_value, value),
                                     ("np_derivative", info.np_derivative, slope)):
        mine = torch.from_numpy(np.asarray(formula(a.numpy()), dtype=np.float64))
        bad = (mine - reference).abs() > 1e-12 * (1.0 + reference.abs())
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            j = int(((mine - reference).abs() / (1.0 + reference.abs())).argmax())
            problems.append(
                f"{what} differs from torch at {int(bad.sum())} of {a.numel()} points in "
                f"[{float(a[bad].min()):g}, {float(a[bad].max()):g}]: first a = {float(a[i])!r}: "
                f"{float(mine[i])!r} vs {float(reference[i])!r}; worst a = {float(a[j])!r}: "
                f"{float(mine[j])!r} vs {float(reference[j])!r}"
            )
    assert not problems, "; ".join(problems)


_TORCH_GAIN = {
    "sigmoid": ("sigmoid",),
    "tanh": ("tanh",),
    "relu": ("relu",),
    "leaky-relu": ("leaky_relu", catalog.LEAKY_SLOPE),
    "identity": ("linear",),
}


@pytest.mark.parametrize("activation", ACTS)
def test_kaiming_gain_is_torchs_where_torch_knows_it(activation):
    gain = catalog.ACTIVATIONS[activation].kaiming_gain
    assert math.isfinite(gain) and gain > 0
    if activation not in _TORCH_GAIN:
        pytest.skip(f"torch.nn.init.calculate_gain has no {activation}")
    assert gain == pytest.approx(torch.nn.init.calculate_gain(*_TORCH_GAIN[activation]), rel=1e-12)


def test_unit_interval_is_true_exactly_where_outputs_lie_in_zero_one():
    for name, info in catalog.ACTIVATIONS.items():
        out = functions.ACTIVATIONS[name].value(torch.linspace(-5.0, 5.0, 101, dtype=torch.float64))
        inside = bool(((out > 0) & (out < 1)).all())
        assert info.unit_interval is inside, name


# ---------------------------------------------------------------- names


def _kinds():
    """Each kind of name: its resolver and every entry's aliases."""
    arch_aliases: dict[str, tuple[str, ...]] = {}
    for norm, info in catalog.NORMS.items():
        arch_aliases[catalog.arch_of(norm, False)] = info.arch_aliases
        arch_aliases[catalog.arch_of(norm, True)] = info.residual_aliases
    return {
        "activation": (catalog.activation_name, {n: a.aliases for n, a in catalog.ACTIVATIONS.items()},
                       "--activation"),
        "loss": (catalog.loss_name, {n: lo.aliases for n, lo in catalog.LOSSES.items()}, "--loss"),
        "init": (catalog.init_name, {n: i.aliases for n, i in catalog.INITS.items()}, "--init"),
        "arch": (catalog.arch_name, arch_aliases, "--compare-arch"),
        "norm": (catalog.norm_name, {n: info.aliases for n, info in catalog.NORMS.items()}, "--norm"),
    }


KINDS = _kinds()


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_alias_resolves_to_its_entry(kind):
    resolve, entries, _ = KINDS[kind]
    for name, aliases in entries.items():
        for alias in (name, *aliases):
            for spelled in (alias, alias.upper(), alias.title(), f"  {alias} "):
                assert resolve(spelled) == name, (kind, spelled)


@pytest.mark.parametrize("kind", list(KINDS))
def test_no_alias_is_shared_by_two_entries(kind):
    _, entries, _ = KINDS[kind]
    owner: dict[str, str] = {}
    for name, aliases in entries.items():
        for alias in {catalog.names.normal(a) for a in (name, *aliases)}:
            assert alias not in owner, f"{alias!r} names both {owner[alias]} and {name}"
            owner[alias] = name


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ReLU", "relu"), ("Sigmoid", "sigmoid"), ("TANH", "tanh"), ("Leaky_ReLU", "leaky-relu"),
     ("GELU", "gelu"), ("Logistic", "sigmoid"), ("leaky relu", "leaky-relu")],
)
def test_activation_names_are_case_insensitive(text, expected):
    assert catalog.activation_name(text) == expected
    assert functions.activation(text).name == expected


@pytest.mark.parametrize(
    ("kind", "typo", "expected"),
    [("activation", "sigmod", "sigmoid"), ("activation", "tahn", "tanh"),
     ("activation", "rleu", "relu"), ("activation", "sofplus", "softplus"),
     ("init", "kaimnig", "kaiming"), ("init", "xaviar", "xavier"), ("loss", "mes", "mse"),
     ("arch", "residul", "residual")],
)
def test_a_typo_suggests_the_right_name(kind, typo, expected):
    resolve, _, option = KINDS[kind]
    with pytest.raises(PercgradError) as info:
        resolve(typo)
    message = str(info.value)
    assert "did you mean" in message
    assert message.endswith(f"did you mean {expected}?"), message
    assert repr(typo) in message
    assert info.value.option == option


@pytest.mark.parametrize("kind", list(KINDS))
def test_nonsense_names_every_choice_and_suggests_nothing(kind):
    resolve, entries, _ = KINDS[kind]
    with pytest.raises(PercgradError) as info:
        resolve("qqqqqqqq")
    message = str(info.value)
    assert "did you mean" not in message
    for name in entries:
        assert name in message


def test_a_typo_on_the_command_line_is_refused_with_the_suggestion():
    result = invoke("single", "--activation", "sigmod")
    assert result.exit_code == 2
    assert "did you mean sigmoid?" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
