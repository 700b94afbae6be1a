"""``percgrad inspect``: a user's model, leaf module by leaf module. One forward and backward
pass with hooks gives every module's ‖W‖, ‖∂E/∂W‖, ‖∂E/∂output‖, dead ReLU units, saturated
sigmoid/tanh outputs and where values first turn non-finite; the flow is diagnosed by the rule
of ``vanish`` (theory.diagnose). The model's gradient is checked on a float64 copy in eval mode
against central differences over its flat parameter vector and, when that fails, each leaf
module is checked on its own recorded input, to name the first whose backward disagrees."""

from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from percgrad.engines.check import (
    COTANGENT_SALT,
    Objective,
    method_for,
    run_objective,
    tolerance_for,
)
from percgrad.engines.perceptron import SATURATION
from percgrad.engines.user_data import random_tensor
from percgrad.errors import PercgradError
from percgrad.gradcheck.compare import frobenius
from percgrad.network.functions import activation
from percgrad.reports.user import (
    Diagnosis,
    GradCheck,
    HistoryStep,
    InspectReport,
    Localisation,
    ModuleStats,
    Note,
)
from percgrad.runtime.device import device_info, resolve_device
from percgrad.theory.flow import EXPLODING_SHARE, VANISHING_SHARE, judge
from percgrad.version import __version__

Progress = Callable[[int, int], None]
LOSSES = ("auto", "mse", "bce", "cross-entropy", "sum")
DEAD_TYPES: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6)
"""Activations whose units can die (output exactly 0 whatever the input)."""
SATURATING: dict[type[nn.Module], str] = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
"""Activation modules whose saturation is measured, by their catalog name."""
MAX_STEPS = 10_000


@dataclass(frozen=True)
class InspectOptions:
    """What ``inspect`` does besides the model and its data."""

    loss: str = "auto"
    train: bool = True
    steps: int = 0
    lr: float = 0.1
    check: str = "auto"
    tolerance: float | None = None
    seed: int = 0
    device: str = "auto"


@dataclass
class _Record:
    """What the hooks saw of one module."""

    name: str
    module: nn.Module
    order: int
    back_order: int | None = None
    out_sq: float = 0.0
    got_grad: bool = False
    out_finite: bool = True
    in_finite: bool = True
    grad_out_finite: bool = True
    grad_in_finite: bool = True
    dead: float | None = None
    saturated: float | None = None
    numel: int = 0
    args: tuple[Any, ...] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pass:
    """One forward and backward pass with hooks."""

    loss: float
    output_shape: tuple[int, ...]
    records: dict[str, _Record]
    grads: dict[str, Tensor | None]
    """Parameter name → its gradient."""
    notes: list[Note]


def leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The leaf modules with their container paths (the model itself when it has no children)."""
    found = [(name, m) for name, m in model.named_modules() if not any(True for _ in m.children())]
    return found or [("", model)]


def containers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules with children, deepest first (the model itself last)."""
    found = [(name, m) for name, m in model.named_modules() if any(True for _ in m.children())]
    return sorted(found, key=lambda item: -len(item[0].split(".")) if item[0] else 1)


def label(name: str) -> str:
    """A module's name for display: its path, or (model) for the root."""
    return name or "(model)"


def _float_tensors(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value] if value.is_floating_point() else []
    if isinstance(value, dict):
        return [t for v in value.values() for t in _float_tensors(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _float_tensors(v)]
    return []


def _finite(tensors: Sequence[Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def no_inplace(model: nn.Module) -> None:
    """Turn off ``inplace`` on every module that has it (ReLU(inplace=True) would overwrite the
    output another hook is reading; the values are the same)."""
    for m in model.modules():
        if isinstance(getattr(m, "inplace", None), bool):
            m.inplace = False  # type: ignore[assignment]


def main_output(out: Any, notes: list[Note] | None = None) -> Tensor:
    """The tensor the loss is taken of: the output, the first of a tuple, ``logits`` of a dict."""
    if isinstance(out, Tensor):
        return out
    if isinstance(out, dict):
        if isinstance(out.get("logits"), Tensor):
            return out["logits"]
        found = _float_tensors(out)
    else:
        found = _float_tensors(out)
    if not found:
        raise PercgradError(f"the model returned a {type(out).__name__} with no floating-point "
                            "tensor to take a loss of", "TARGET")
    if notes is not None and not any(n.kind == "first-output" for n in notes):
        notes.append(Note("first-output"))
    return found[0]


def resolve_loss(loss: str, has_targets: bool) -> str:
    """``auto``: mse with targets, sum without."""
    name = str(loss).strip().lower().replace("_", "-")
    name = {"ce": "cross-entropy", "crossentropy": "cross-entropy", "xent": "cross-entropy"}.get(
        name, name)
    if name not in LOSSES:
        raise PercgradError(f"{loss!r} is not one of: {', '.join(LOSSES)}", "--loss")
    if name == "auto":
        return "mse" if has_targets else "sum"
    return name


def random_targets(kind: str, out: Tensor, seed: int) -> Tensor | None:
    """Seeded targets for a loss that needs them when none were given."""
    gen = torch.Generator(device="cpu").manual_seed(seed * 1_000_003 + 77)
    if kind == "mse":
        return torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out)
    if kind == "bce":
        return torch.randint(0, 2, out.shape, generator=gen).to(out)
    if kind == "cross-entropy":
        if out.dim() < 2:
            raise PercgradError("cross-entropy needs outputs of shape (batch, classes, …), got "
                                f"{tuple(out.shape)}", "--loss")
        shape = (out.shape[0], *out.shape[2:])
        return torch.randint(0, out.shape[1], shape, generator=gen).to(out.device)
    return None


def loss_value(kind: str, out: Tensor, t: Tensor | None) -> Tensor:
    """E of the model's output: mse, bce (with logits), cross-entropy (class indices or
    probabilities), or sum (E = Σ output)."""
    if kind == "sum":
        return out.sum()
    assert t is not None
    if kind == "cross-entropy":
        if t.shape == out.shape and t.is_floating_point():
            return F.cross_entropy(out, t.to(out.dtype))
        target = t
        if t.is_floating_point():
            if not bool((t == t.round()).all()):
                raise PercgradError("cross-entropy needs class indices (whole numbers) or "
                                    "probabilities of the output's shape", "--targets")
            target = t.long()
        expect = (out.shape[0], *out.shape[2:])
        if tuple(target.shape) != expect:
            target = target.reshape(expect) if target.numel() == math.prod(expect) else target
        if tuple(target.shape) != expect:
            raise PercgradError(f"cross-entropy needs {math.prod(expect)} class index(es) (shape "
                                f"{expect}), got shape {tuple(t.shape)}", "--targets")
        classes = out.shape[1]
        if bool((target < 0).any()) or bool((target >= classes).any()):
            raise PercgradError(f"class indices must lie in 0…{classes - 1} (the model has "
                                f"{classes} outputs)", "--targets")
        return F.cross_entropy(out, target)
    target = t.to(out.dtype)
    if target.shape != out.shape:
        if target.numel() != out.numel():
            raise PercgradError(f"{target.numel()} target value(s) for {out.numel()} output(s) "
                                f"(output shape {tuple(out.shape)})", "--targets")
        target = target.reshape(out.shape)
    if kind == "mse":
        return F.mse_loss(out, target)
    return F.binary_cross_entropy_with_logits(out, target)


def _forward(model: nn.Module, args: Sequence[Any]) -> Any:
    try:
        return model(*args)
    except PercgradError:
        raise
    except Exception as exc:
        from percgrad.engines.user_code import _first_line, _where

        hint = ""
        if "more than 1 value per channel" in str(exc):
            hint = "; batch norm in train mode needs a batch of 2 or more (or --eval)"
        shapes = ", ".join("×".join(map(str, a.shape)) for a in args if isinstance(a, Tensor))
        raise PercgradError(f"the model's forward pass on input of shape {shapes} raised "
                            f"{_first_line(exc)}{_where(exc)}{hint}", "TARGET") from None


@contextmanager
def _hooked(model: nn.Module, record_inputs: bool = False,
            everything: bool = False) -> Iterator[dict[str, _Record]]:
    """Forward hooks on the leaf modules (every module with ``everything``) that record what
    passes through them, and tensor hooks on their outputs for ∂E/∂output."""
    records: dict[str, _Record] = {}
    counter = [0]
    back = [0]
    handles = []
    targets = list(model.named_modules()) if everything else leaves(model)
    leaf_names = {name for name, _ in leaves(model)}

    def make(name: str, module: nn.Module) -> Callable[..., None]:
        def hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
            rec = records.get(name)
            if rec is None:
                rec = records[name] = _Record(name, mod, counter[0])
                counter[0] += 1
                if record_inputs:
                    rec.args = tuple(a.detach() if isinstance(a, Tensor) else a for a in args)
                    rec.kwargs = dict(kwargs)
            outs = _float_tensors(output)
            ins = _float_tensors(args)
            rec.numel += sum(o.numel() for o in outs)
            if name not in leaf_names:
                return
            rec.out_finite &= _finite(outs)
            rec.in_finite &= _finite(ins)
            if outs and isinstance(mod, DEAD_TYPES) and outs[0].dim() >= 1:
                o = outs[0].detach()
                units = (o == 0).all(dim=0) if o.dim() >= 2 else (o == 0)
                rec.dead = float(units.double().mean())
            if outs and ins and type(mod) in SATURATING:
                act = activation(SATURATING[type(mod)])
                a, h = ins[0].detach(), outs[0].detach()
                if a.shape == h.shape:
                    dphi = act.derivative(a, h).abs()
                    rec.saturated = float((dphi < SATURATION * act.dphi_sup).double().mean())
            for o in outs:
                if o.requires_grad:
                    o.register_hook(on_grad_out(rec))
            for a in ins:
                if a.requires_grad:
                    a.register_hook(on_grad_in(rec))
        return hook

    def on_grad_out(rec: _Record) -> Callable[[Tensor], None]:
        def hook(g: Tensor) -> None:
            if rec.back_order is None:
                rec.back_order = back[0]
                back[0] += 1
            rec.got_grad = True
            norm = frobenius(g)
            rec.out_sq += norm * norm
            rec.grad_out_finite &= bool(torch.isfinite(g).all())
        return hook

    def on_grad_in(rec: _Record) -> Callable[[Tensor], None]:
        def hook(g: Tensor) -> None:
            rec.grad_in_finite &= bool(torch.isfinite(g).all())
        return hook

    for name, module in targets:
        handles.append(module.register_forward_hook(make(name, module), with_kwargs=True))
    try:
        yield records
    finally:
        for h in handles:
            h.remove()


def one_pass(model: nn.Module, args: Sequence[Any], kind: str, targets: Tensor | None,
             seed: int) -> tuple[_Pass, Tensor | None]:
    """Forward (hooked), loss, backward; ``targets`` drawn when the loss needs them and none
    were given (returned, so that later steps reuse them)."""
    notes: list[Note] = []
    model.zero_grad(set_to_none=True)
    with _hooked(model) as records:
        out = main_output(_forward(model, args), notes)
        if kind != "sum" and targets is None:
            targets = random_targets(kind, out.detach(), seed)
            notes.append(Note("random-targets"))
        e = loss_value(kind, out, targets)
        if e.requires_grad:
            try:
                e.backward()
            except Exception as exc:
                from percgrad.engines.user_code import _first_line, _where

                raise PercgradError(f"the model's backward pass raised {_first_line(exc)}"
                                    f"{_where(exc)}", "TARGET") from None
    grads = {name: (None if p.grad is None else p.grad.detach().clone())
             for name, p in model.named_parameters()}
    return _Pass(float(e.detach()), tuple(out.shape), records, grads, notes), targets


def _module_stats(model: nn.Module, result: _Pass) -> list[ModuleStats]:
    """Per leaf module that ran, in forward order (read right after the pass: ``.grad``)."""
    stats = []
    for name, module in sorted(leaves(model), key=lambda item: _order(result, item[0])):
        rec = result.records.get(name)
        if rec is None:
            continue
        own = [p for _, p in module.named_parameters(recurse=False)]
        weight = math.sqrt(sum(frobenius(p) ** 2 for p in own)) if own else None
        got = [p.grad for p in own if p.grad is not None]
        grad = math.sqrt(sum(frobenius(g) ** 2 for g in got)) if got else (0.0 if own else None)
        finite_back = rec.grad_out_finite and rec.grad_in_finite and all(
            bool(torch.isfinite(g).all()) for g in got)
        stats.append(ModuleStats(
            name=label(name), type=type(module).__name__,
            params=sum(p.numel() for p in own), weight_norm=weight, grad_norm=grad,
            output_grad_norm=math.sqrt(rec.out_sq) if rec.got_grad else None,
            dead=rec.dead, saturated=rec.saturated, finite_forward=rec.out_finite,
            finite_backward=finite_back,
            weight_layer=any(p.dim() >= 2 for p in own),
        ))
    return stats


def _order(result: _Pass, name: str) -> int:
    rec = result.records.get(name)
    return rec.order if rec is not None else 1 << 30


def diagnose_model(stats: list[ModuleStats], result: _Pass) -> Diagnosis:
    """The rule of ``vanish`` (diagnosis.judge) over the weight layers, from the table's
    ‖∂E/∂W‖: non-finite first, then dead, then the first layer's share of the last's gradient.
    A weight layer is dead when the ReLU after it (before the next weight layer) is 0 on every
    unit for every sample, or its ∂E/∂output is exactly 0. Non-finite values are located in
    any module, in forward and in backward order."""
    by_name = {label(r.name): r for r in result.records.values()}
    first_fwd = next((s.name for s in stats if not s.finite_forward), None)
    forward_input = bool(first_fwd is not None and not by_name[first_fwd].in_finite)
    backward = sorted((s for s in stats if by_name[s.name].back_order is not None),
                      key=lambda s: by_name[s.name].back_order or 0)
    first_back = next((s.name for s in backward if not s.finite_backward), None)
    if first_back is None:
        first_back = next((s.name for s in stats if not s.finite_backward), None)
    from_loss = bool(backward and not by_name[backward[0].name].grad_out_finite)
    layers = [s for s in stats if s.weight_layer]
    spans: list[list[ModuleStats]] = []
    for s in stats:
        if s.weight_layer:
            spans.append([s])
        elif spans:
            spans[-1].append(s)
    for a, b in itertools.pairwise(layers):
        ga, gb = a.output_grad_norm, b.output_grad_norm
        if ga is not None and gb is not None and gb > 0 and math.isfinite(ga) and math.isfinite(gb):
            a.factor = (ga / gb) ** 2
    factors = [s.factor for s in layers[:-1] if s.factor is not None and s.factor > 0]
    mean = math.exp(sum(math.log(f) for f in factors) / len(factors)) if factors else None
    dead = [any(m.dead == 1.0 for m in span) or span[0].output_grad_norm == 0.0 for span in spans]
    finite = [all(m.finite_forward and m.finite_backward for m in span) for span in spans]
    norms = [s.grad_norm if s.grad_norm is not None else math.nan for s in layers]
    first_bad = next((k + 1 for k, ok in enumerate(finite) if not ok), None)
    verdict = judge(norms, dead, first_bad)
    nonfinite = first_fwd is not None or first_back is not None or not math.isfinite(result.loss)
    concerned: list[str] = []
    if verdict.kind == "dead":
        concerned = [layers[k - 1].name for k in verdict.layers]
    elif verdict.kind in ("vanishing", "exploding") and norms and norms[-1] > 0:
        last = norms[-1]
        concerned = [s.name for s, g in zip(layers[:-1], norms[:-1])
                     if (g / last < VANISHING_SHARE if verdict.kind == "vanishing"
                         else g / last > EXPLODING_SHARE)]
    kinds = ["non-finite"] if nonfinite else (
        [verdict.kind] if verdict.kind in ("vanishing", "exploding", "dead") else [])
    return Diagnosis(
        kinds=kinds, flow="non-finite" if nonfinite else verdict.kind, share=verdict.share,
        vanishing=VANISHING_SHARE, exploding=EXPLODING_SHARE, mean_factor=mean,
        weight_layers=[s.name for s in layers], concerned=concerned,
        dead_layers=concerned if verdict.kind == "dead" else [],
        first_nonfinite_forward=first_fwd, first_nonfinite_backward=first_back,
        backward_from_loss=from_loss, forward_input_nonfinite=forward_input,
    )


def _to64(value: Any) -> Any:
    if isinstance(value, Tensor) and value.is_floating_point():
        return value.detach().to(torch.float64)
    return value


def float64_copy(model: nn.Module) -> nn.Module:
    """A float64 copy of ``model`` in eval mode, in-place activations off."""
    m64 = copy.deepcopy(model)
    no_inplace(m64)
    return m64.to(torch.float64).eval()


def _param_objective(module: nn.Module, args: Sequence[Any], kwargs: dict[str, Any],
                     finish: Callable[[Any], Tensor], with_inputs: bool, prefix: str = "",
                     ) -> tuple[Objective, list[str]] | None:
    """``finish(module(*args))`` as a function of the module's parameters (and of its float
    inputs with ``with_inputs``), with autograd's gradient of it; None when nothing to check."""
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    inputs = [i for i, a in enumerate(args) if with_inputs and isinstance(a, Tensor)
              and a.is_floating_point()]
    if not named and not inputs:
        return None
    names = [n for n, _ in named] + (["input"] if len(inputs) == 1 else
                                     [f"input{j}" for j in range(len(inputs))])
    names = [f"{prefix}.{n}" if prefix else n for n in names]
    shapes = [tuple(p.shape) for _, p in named] + [tuple(args[i].shape) for i in inputs]
    leaves_ = [p for _, p in named]
    live = list(args)
    for i in inputs:
        live[i] = args[i].detach().clone().requires_grad_(True)
        leaves_.append(live[i])
    with torch.enable_grad():
        module.zero_grad(set_to_none=True)
        raw = module(*live, **kwargs)
        e = finish(raw)
        outs = _float_tensors(raw)
        carried = [o for o in outs if o.requires_grad]
        got = torch.autograd.grad(e, leaves_ + carried, allow_unused=True) if e.requires_grad \
            else [None] * (len(leaves_) + len(carried))
    grads = [torch.zeros_like(t) if g is None else g.detach() for t, g in zip(leaves_, got)]
    out_grads = got[len(leaves_):]
    magnitude = abs(float(e.detach())) + sum(
        float((g.abs() * o.detach().abs()).sum()) for g, o in zip(out_grads, carried) if g is not None)
    theta = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in leaves_])
    counts = [t.numel() for t in leaves_]
    starts = [0]
    for c in counts:
        starts.append(starts[-1] + c)
    pnames = [n for n, _ in named]
    fixed = list(args)

    def fn(row: Tensor) -> Tensor:
        params = {n: row[starts[j]:starts[j + 1]].view(shapes[j]) for j, n in enumerate(pnames)}
        call = list(fixed)
        for j, i in enumerate(inputs):
            k = len(pnames) + j
            call[i] = row[starts[k]:starts[k + 1]].view(shapes[k])
        return finish(torch.func.functional_call(module, params, tuple(call), kwargs))

    owned = [p for _, p in named]

    def loop_fn(row: Tensor) -> Tensor:
        for j, p in enumerate(owned):
            p.detach().copy_(row[starts[j]:starts[j + 1]].view(shapes[j]))
        call = list(fixed)
        for j, i in enumerate(inputs):
            k = len(pnames) + j
            call[i] = row[starts[k]:starts[k + 1]].view(shapes[k])
        return finish(module(*call, **kwargs))

    row_bytes = 8 * 4 * sum(o.numel() for o in outs)
    obj = Objective(theta, names, shapes, fn, [grads], torch.tensor([magnitude]), None, row_bytes,
                    loop_fn)
    return obj, names


@contextmanager
def _restored(module: nn.Module) -> Iterator[None]:
    """The module's parameters as they were, after a check that wrote rows into them."""
    saved = [p.detach().clone() for p in module.parameters()]
    try:
        yield
    finally:
        with torch.no_grad():
            for p, v in zip(module.parameters(), saved):
                p.copy_(v)


def check_model(m64: nn.Module, args64: Sequence[Any], kind: str, t64: Tensor | None,
                method: str, tol: float, seed: int, row_bytes: int,
                progress: Progress | None = None) -> GradCheck:
    """The whole model's gradient (autograd, float64 copy in eval mode) against central
    differences of E over its flat parameter vector."""
    n_params = sum(p.numel() for p in m64.parameters() if p.requires_grad)
    if n_params == 0:
        return GradCheck("off", tol, None, None, reason="no-parameters")
    chosen = method_for(method, n_params)
    if chosen == "off":
        return GradCheck("off", tol, None, None, reason="off")

    def finish(out: Any) -> Tensor:
        return loss_value(kind, main_output(out), t64)

    built = _param_objective(m64, args64, {}, finish, with_inputs=False)
    assert built is not None
    obj, _ = built
    obj.row_bytes = max(obj.row_bytes, row_bytes)
    with _restored(m64):
        check, _ = run_objective(obj, chosen, tol, seed, progress)
    return check


def check_module(module: nn.Module, args: Sequence[Any], kwargs: dict[str, Any], tol: float,
                 seed: int, salt: int, name: str = "") -> GradCheck | None:
    """A module on its own recorded input: autograd's gradient of v·module(x), v a random
    cotangent, for its parameters and its input, against central differences."""
    with torch.no_grad():
        probe = module(*args, **kwargs)
    outs = _float_tensors(probe)
    if not outs:
        return None
    cot = [random_tensor(tuple(o.shape), seed, torch.float64, o.device, salt=COTANGENT_SALT + salt + k)
           for k, o in enumerate(outs)]

    def finish(out: Any) -> Tensor:
        got = _float_tensors(out)
        total = torch.zeros((), dtype=torch.float64, device=cot[0].device)
        for v, o in zip(cot, got):
            total = total + (v * o.to(torch.float64)).sum()
        return total

    built = _param_objective(module, args, kwargs, finish, with_inputs=True, prefix=name)
    if built is None:
        return None
    obj, _ = built
    entries = obj.theta.numel()
    with _restored(module):
        check, _ = run_objective(obj, method_for("auto", entries), tol, seed + salt)
    return check


def localise(m64: nn.Module, args64: Sequence[Any], tol: float, seed: int,
             stats: list[ModuleStats]) -> Localisation:
    """Each leaf module on its own recorded input, in forward order; the first that fails is
    named. When every leaf passes, the containers, deepest first: the first that fails holds
    the mistake in its own code."""
    with torch.no_grad(), _hooked(m64, record_inputs=True, everything=True) as records:
        m64(*args64)
    by_label = {s.name: s for s in stats}
    checked: list[str] = []
    first: tuple[str, str, GradCheck] | None = None
    order = sorted((r for r in records.values() if r.name in {n for n, _ in leaves(m64)}),
                   key=lambda r: r.order)
    for i, rec in enumerate(order):
        assert rec.args is not None
        result = check_module(rec.module, rec.args, rec.kwargs, tol, seed, 100 * (i + 1), rec.name)
        if result is None:
            continue
        checked.append(label(rec.name))
        if label(rec.name) in by_label:
            by_label[label(rec.name)].local = result
        if result.passed is False and first is None:
            first = (label(rec.name), type(rec.module).__name__, result)
    if first is not None:
        return Localisation(first[0], first[1], first[2], checked)
    for j, (name, module) in enumerate(containers(m64)):
        found = records.get(name)
        if found is None or found.args is None:
            continue
        result = check_module(module, found.args, found.kwargs, tol, seed, 10_000 + j, name)
        if result is None:
            continue
        checked.append(label(name))
        if result.passed is False:
            return Localisation(label(name), type(module).__name__, result, checked, container=True)
    return Localisation(None, None, None, checked)


def _history(model: nn.Module, args: Sequence[Any], kind: str, targets: Tensor | None,
             opts: InspectOptions, first: _Pass, stats: list[ModuleStats], notes: list[Note],
             progress: Progress | None) -> list[HistoryStep]:
    """Plain SGD for ``opts.steps`` steps on the batch; per step, E and every module's
    ‖∂E/∂W‖ and ‖∂E/∂output‖."""
    names = [s.name for s in stats]

    def point(step: int, result: _Pass) -> HistoryStep:
        now = {s.name: s for s in _module_stats(model, result)}
        return HistoryStep(step, result.loss, [now[n].grad_norm if n in now else None for n in names],
                           [now[n].output_grad_norm if n in now else None for n in names])

    history = [point(0, first)]
    for step in range(1, opts.steps + 1):
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p.sub_(opts.lr * p.grad)
        result, targets = one_pass(model, args, kind, targets, opts.seed)
        history.append(point(step, result))
        if progress is not None:
            progress(step, opts.steps)
        if not math.isfinite(result.loss) or not all(
                g is None or bool(torch.isfinite(g).all()) for g in result.grads.values()):
            notes.append(Note("training-stopped", value=opts.lr, text=str(step)))
            break
    return history


def inspect_model(model: nn.Module, inputs: Sequence[Any], targets: Tensor | None = None,
                  options: InspectOptions | None = None, target: str = "",
                  progress: Progress | None = None,
                  settings: dict[str, Any] | None = None) -> InspectReport:
    """Everything ``percgrad inspect`` shows, for ``model`` on ``inputs``."""
    opts = options or InspectOptions()
    if isinstance(opts.steps, bool) or not isinstance(opts.steps, int) or not 0 <= opts.steps <= MAX_STEPS:
        raise PercgradError(f"must be a whole number from 0 to {MAX_STEPS}, got {opts.steps!r}",
                            "--steps")
    if opts.steps and not (math.isfinite(opts.lr) and opts.lr > 0):
        raise PercgradError(f"must be a positive finite number, got {opts.lr!r}", "--lr")
    if not isinstance(model, nn.Module):
        raise PercgradError(f"expected an nn.Module, got a {type(model).__name__}", "TARGET")
    started = time.perf_counter()
    device = resolve_device(opts.device)
    kind = resolve_loss(opts.loss, targets is not None)
    tol = tolerance_for(torch.float64, opts.tolerance)
    notes: list[Note] = []
    work = copy.deepcopy(model)
    no_inplace(work)
    work.to(device)
    work.train(opts.train)
    args = [a.to(device) if isinstance(a, Tensor) else a for a in inputs]
    t = targets.to(device) if targets is not None else None
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(opts.seed)
        first, t = one_pass(work, args, kind, t, opts.seed)
        notes += first.notes
        stats = _module_stats(work, first)
        batch = next((a.shape[0] for a in args if isinstance(a, Tensor) and a.dim() >= 1), 1)
        diagnosis = diagnose_model(stats, first)
        if batch == 1 and any(s.dead is not None for s in stats):
            notes.append(Note("batch-one"))
        history = None
        if opts.steps:
            history = _history(work, args, kind, t, opts, first, stats, notes, progress)
    stats_s = time.perf_counter() - started
    called = {s.name for s in stats}
    idle = [label(n) for n, _ in leaves(model) if label(n) not in called]
    if idle:
        notes.append(Note("not-called", tuple(idle)))
    check, localisation = _check_and_localise(model, args, kind, t, opts, tol, stats, notes, progress)
    numeric_s = time.perf_counter() - started - stats_s
    n_params = sum(p.numel() for p in model.parameters())
    return InspectReport(
        target=target, model=type(model).__name__,
        settings={**(settings or {}), "loss": kind, "mode": "train" if opts.train else "eval",
                  "dtype": str(next((p.dtype for p in model.parameters()), torch.float32)
                               ).removeprefix("torch."),
                  "steps": opts.steps, "lr": opts.lr, "check": check.method,
                  "requested_check": opts.check, "tolerance": tol, "seed": opts.seed,
                  "device": str(device)},
        device=device_info(device),
        input_shapes=[tuple(a.shape) for a in args if isinstance(a, Tensor)],
        output_shape=first.output_shape, loss=first.loss, params=n_params, modules=stats,
        diagnosis=diagnosis, check=check, localisation=localisation, history=history,
        notes=notes, timing={"stats_s": stats_s, "check_s": numeric_s}, version=__version__,
    )


def _check_and_localise(model: nn.Module, args: Sequence[Any], kind: str, t: Tensor | None,
                        opts: InspectOptions, tol: float, stats: list[ModuleStats],
                        notes: list[Note], progress: Progress | None
                        ) -> tuple[GradCheck, Localisation | None]:
    if str(opts.check).strip().lower() == "off":
        return GradCheck("off", tol, None, None, reason="off"), None
    try:
        m64 = float64_copy(model).to(args[0].device if args and isinstance(args[0], Tensor)
                                     else "cpu")
        args64 = [_to64(a) for a in args]
        t64 = _to64(t) if t is not None else None
        with torch.no_grad(), _hooked(m64) as sizes:
            _forward(m64, args64)
    except PercgradError:
        raise
    except Exception as exc:
        from percgrad.engines.user_code import _first_line

        return GradCheck(method_for(opts.check, 0), tol, None, None, reason="float64-unavailable",
                         detail=_first_line(exc)), None
    notes.append(Note("eval-copy"))
    row_bytes = 8 * 3 * sum(r.numel for r in sizes.values())
    check = check_model(m64, args64, kind, t64, opts.check, tol, opts.seed, row_bytes, progress)
    localisation = None
    if check.passed is False:
        localisation = localise(m64, args64, tol, opts.seed, stats)
    return check, localisation


def model_inputs(shape: tuple[int, ...], model: nn.Module, seed: int) -> Tensor:
    """A seeded N(0, 1) input of ``shape`` in the model's floating-point dtype."""
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    return random_tensor(shape, seed, dtype, "cpu", salt=11)


def cast_data(x: Tensor, model: nn.Module) -> Tensor:
    """Floating-point data in the model's dtype; whole numbers (token ids) as int64."""
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    return x.to(dtype) if x.is_floating_point() else x.long()


def inspect_target(model: Any, inputs: Any = None, *, targets: Any = None,
                   input_shape: str | Sequence[int] | None = None, data: str | Path | None = None,
                   target_column: str | None = None, targets_file: str | Path | None = None,
                   state_dict: str | Path | None = None, options: InspectOptions | None = None,
                   progress: Progress | None = None) -> InspectReport:
    """``inspect`` from what the user gives: a TARGET string or a model (or a callable building
    one); inputs as tensors, a shape for random ones, or a data file; targets as a tensor, a
    file or a CSV column; weights from a state-dict file."""
    from percgrad.engines.user_code import resolve_module
    from percgrad.engines.user_data import parse_shape, read_data, read_state_dict, read_targets

    opts = options or InspectOptions()
    resolve_loss(opts.loss, True)
    method_for(opts.check, 0)
    given = [name for name, v in (("inputs", inputs), ("--input-shape", input_shape),
                                  ("--data", data)) if v is not None]
    if not given:
        raise PercgradError("give --input-shape (random inputs, e.g. 32,784) or --data FILE",
                            "--input-shape")
    if len(given) > 1:
        raise PercgradError(f"give one of {' and '.join(given)}, not both", given[1])
    if targets is not None and targets_file is not None:
        raise PercgradError("give targets or --targets, not both", "--targets")
    label_text = model if isinstance(model, str) else ""
    module = resolve_module(model)
    if state_dict is not None:
        from percgrad.engines.user_data import load_state

        load_state(module, read_state_dict(Path(state_dict)))
    source = "given"
    file_targets: Tensor | None = None
    if input_shape is not None:
        shape = parse_shape(input_shape, "--input-shape") if isinstance(input_shape, str) else \
            tuple(int(v) for v in input_shape)
        if not shape or any(v < 1 for v in shape):
            raise PercgradError(f"expected positive sizes, got {input_shape!r}", "--input-shape")
        args: list[Any] = [model_inputs(shape, module, opts.seed)]
        source = f"N(0, 1), seed {opts.seed}"
    elif data is not None:
        x, file_targets = read_data(Path(data), target_column)
        args = [cast_data(x, module)]
        source = f"from {Path(data).name}"
    else:
        args = list(inputs) if isinstance(inputs, list | tuple) else [inputs]
    if target_column is not None and data is None:
        raise PercgradError("needs --data FILE (a .csv)", "--target-column")
    t: Tensor | None
    if targets_file is not None:
        if file_targets is not None:
            raise PercgradError(f"{Path(str(data)).name} has targets already", "--targets")
        t = read_targets(Path(targets_file))
    elif targets is not None:
        t = torch.as_tensor(targets)
    else:
        t = file_targets
    if t is not None and t.is_floating_point():
        dtype = next((a.dtype for a in args if isinstance(a, Tensor) and a.is_floating_point()),
                     torch.float32)
        t = t.to(dtype)
    settings = {"input_shape": None if input_shape is None else list(args[0].shape),
                "data": None if data is None else str(data),
                "targets": "file" if targets_file is not None or file_targets is not None else
                ("given" if targets is not None else None),
                "state_dict": None if state_dict is None else str(state_dict), "inputs": source}
    return inspect_model(module, args, t, opts, label_text, progress, settings)
