"""One hooked forward and backward pass of a user's model, and what it gives per leaf module
that ran and per module that owns parameters (every parameter in one row): ‖W‖, ‖∂E/∂W‖,
‖∂E/∂output‖, dead ReLU units, saturated outputs and finiteness."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from percgrad.engines.hooks import (
    Owned,
    Record,
    all_finite,
    hooked,
    label,
    leaves,
    owned_parameters,
)
from percgrad.engines.model_loss import loss_value, main_output, random_targets
from percgrad.engines.user_code import _first_line, _where, hosted
from percgrad.engines.user_data import input_tensors, map_inputs, model_dtype, split_inputs
from percgrad.errors import PercgradError
from percgrad.gradcheck.compare import frobenius
from percgrad.reports.user import ModuleStats, Note


@dataclass
class Pass:
    """One forward and backward pass with hooks."""

    loss: float
    output_shape: tuple[int, ...]
    records: dict[str, Record]
    grads: dict[str, Tensor | None]
    """Parameter name → its gradient (dense: a sparse one, nn.Embedding(sparse=True)'s, made
    dense, so that whatever reads it element-wise works)."""
    notes: list[Note]
    scale: float = 0.0
    """Σ|output|: with |E|, the size of the terms E is summed from (its round-off floor)."""
    normalised: bool = False
    """Every row of the output is non-negative and sums to 1 (a softmax's)."""
    loss_kind: str = "sum"


def _normalised(out: Tensor) -> bool:
    """Rows of the output (its last dimension) are non-negative and sum to 1."""
    o = out.detach()
    if o.dim() == 0 or not bool(torch.isfinite(o).all()):
        return False
    return bool((o >= 0).all()) and bool(((o.sum(-1) - 1).abs() <= 1e-3).all())


def call_model(model: nn.Module, args: Sequence[Any]) -> Any:
    """``model(*args)``, what it raises as a PercgradError that says where in the user's code;
    on copies of the input tensors, which a forward that changes its input in place
    (``x.add_(1)``) would otherwise change for every later pass, and in the user's hands."""
    try:
        with hosted("the model's forward pass"):
            pos, kw = split_inputs(map_inputs(args, _fresh))
            return model(*pos, **kw)
    except PercgradError:
        raise
    except Exception as exc:
        hint = ""
        if "more than 1 value per channel" in str(exc):
            hint = "; batch norm in train mode needs a batch of 2 or more (or --eval)"
        shapes = ", ".join("×".join(map(str, a.shape)) for a in input_tensors(args))
        raise PercgradError(f"the model's forward pass on input of shape {shapes} raised "
                            f"{_first_line(exc)}{_where(exc)}{hint}", "TARGET") from None


def _fresh(value: Any) -> Any:
    """A tensor's copy (anything else as it is)."""
    return value.clone() if isinstance(value, Tensor) else value


def one_pass(model: nn.Module, args: Sequence[Any], kind: str, targets: Tensor | None,
             seed: int) -> tuple[Pass, Tensor | None]:
    """Forward (hooked), loss, backward; ``targets`` drawn when the loss needs them and none
    were given (returned, so that later steps reuse them)."""
    notes: list[Note] = []
    model.zero_grad(set_to_none=True)
    # autograd on whatever the caller's (or the user's code's) setting: a pass without it would
    # show every ‖∂E/∂W‖ as 0 and call the model healthy
    with hooked(model, owners=list(owned_parameters(model))) as records, torch.enable_grad():
        out = main_output(call_model(model, args), notes)
        usable_output(out)
        if kind != "sum" and targets is None:
            targets = random_targets(kind, out.detach(), seed)
            notes.append(Note("random-targets"))
        e = loss_value(kind, out, targets)
        if e.requires_grad:
            try:
                e.backward()
            except Exception as exc:
                raise PercgradError(f"the model's backward pass raised {_first_line(exc)}"
                                    f"{_where(exc)}", "TARGET") from None
    grads = {name: _dense_copy(p.grad) for name, p in model.named_parameters()}
    scale = float(out.detach().abs().sum())
    return Pass(float(e.detach()), tuple(out.shape), records, grads, notes, scale,
                _normalised(out), kind), targets


def _dense_copy(g: Tensor | None) -> Tensor | None:
    """A dense copy of a gradient (None stays None)."""
    if g is None:
        return None
    return g.detach().clone() if g.layout == torch.strided else g.detach().to_dense()


def precise_pass(model: nn.Module, args: Sequence[Any], kind: str, targets: Tensor | None,
                 seed: int) -> Pass | None:
    """For a model in a dtype coarser than float32 (bfloat16, float16): ``one_pass`` of a
    float64 copy in the same mode, on the same inputs and targets, with the generators seeded
    as for the first pass (the same dropout masks); None for float32 and float64 models, or when
    the copy cannot run. Its ‖∂E/∂W‖ tell a loss that does not depend on the parameters from one
    whose gradients are merely as small as the coarse dtype's round-off floor."""
    if torch.finfo(model_dtype(model)).eps <= torch.finfo(torch.float32).eps:
        return None
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    m64 = copy.deepcopy(model).to(torch.float64)
    args64 = map_inputs(args, _float64)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        try:
            result, _ = one_pass(m64, args64, kind, _float64(targets), seed)
        except PercgradError:
            return None
    return result


def _float64(value: Any) -> Any:
    """A floating-point tensor as a detached float64 one; anything else as it is."""
    if isinstance(value, Tensor) and value.is_floating_point():
        return value.detach().to(torch.float64)
    return value


def usable_output(out: Tensor) -> None:
    """Refuse an output no gradient can be read from: not floating-point (``.long()``, a mask:
    no gradient flows through it) or without entries (an empty batch, a slice to nothing)."""
    shape = "×".join(map(str, out.shape)) or "scalar"
    if not out.is_floating_point():
        raise PercgradError(
            f"the model's output is a {str(out.dtype).removeprefix('torch.')} tensor (shape "
            f"{shape}), not a real floating-point one: no gradient flows through it (a .long() "
            "or an argmax at the end?), so every ‖∂E/∂W‖ would be 0; return the floating-point "
            "values",
            "TARGET")
    if out.numel() == 0:
        raise PercgradError(
            f"the model's output has no entries (shape {shape}): E and every gradient would be "
            "0 by construction; give a batch of at least one sample", "TARGET")


def _norm(tensors: Sequence[Tensor]) -> float:
    return math.sqrt(sum(frobenius(t) ** 2 for t in tensors))


def module_stats(model: nn.Module, result: Pass) -> list[ModuleStats]:
    """One row per leaf module that ran and per module that owns parameters (containers and the
    root included; tied parameters with their first module only), in forward order (a module
    that never ran after the row before it in the tree), over the parameters it owns, their
    ‖∂E/∂W‖ read from ``.grad`` right after the pass."""
    owned = owned_parameters(model)
    leaf_names = {name for name, _ in leaves(model)}
    rows: list[tuple[tuple[int, int], str, nn.Module]] = []
    key = (-1, 0)
    for index, (name, module) in enumerate(model.named_modules()):
        rec = result.records.get(name)
        ran = rec is not None and (name in leaf_names or name in owned)
        if ran and rec is not None:
            key = (rec.order, 0)
        elif name in owned:
            key = (key[0], index + 1)
        else:
            continue
        rows.append((key, name, module))
    rows.sort(key=lambda item: item[0])
    return [_row(name, module, result.records.get(name), owned.get(name, Owned()),
                 name in leaf_names) for _, name, module in rows]


def _row(name: str, module: nn.Module, rec: Record | None, own: Owned, leaf: bool) -> ModuleStats:
    trainable = [p for p in own.params if p.requires_grad]
    unused = [n for n, p in zip(own.names, own.params) if p.requires_grad and p.grad is None]
    used = [p for p in trainable if p.grad is not None]
    got = [p.grad for p in used if p.grad is not None]
    finite_back = all_finite(got)
    if rec is not None:
        finite_back = finite_back and rec.grad_out_finite and rec.grad_in_finite
    return ModuleStats(
        name=label(name), type=type(module).__name__,
        params=sum(p.numel() for p in own.params),
        weight_norm=_norm(own.params) if own.params else None,
        grad_norm=_norm(got) if got else None,
        output_grad_norm=math.sqrt(rec.out_sq) if rec is not None and rec.got_grad else None,
        dead=None if rec is None else rec.dead, saturated=None if rec is None else rec.saturated,
        finite_forward=True if rec is None else rec.out_finite, finite_backward=finite_back,
        weight_layer=any(p.dim() >= 2 for p in used) and (leaf or (bool(name) and name != label(""))),
        parameters=list(own.names), also=list(own.also),
        frozen=bool(own.params) and not trainable, unused=unused, ran=rec is not None,
    )
