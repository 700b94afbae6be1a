"""One hooked forward and backward pass of a user's model, and what it gives per leaf module:
‖W‖, ‖∂E/∂W‖, ‖∂E/∂output‖, dead ReLU units, saturated outputs and finiteness."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from percgrad.engines.hooks import Record, hooked, label, leaves, own_parameters
from percgrad.engines.model_loss import loss_value, main_output, random_targets
from percgrad.engines.user_code import _first_line, _where, hosted
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
    """Parameter name → its gradient."""
    notes: list[Note]


def call_model(model: nn.Module, args: Sequence[Any]) -> Any:
    """``model(*args)``, what it raises as a PercgradError that says where in the user's code."""
    try:
        with hosted("the model's forward pass"):
            return model(*args)
    except PercgradError:
        raise
    except Exception as exc:
        hint = ""
        if "more than 1 value per channel" in str(exc):
            hint = "; batch norm in train mode needs a batch of 2 or more (or --eval)"
        shapes = ", ".join("×".join(map(str, a.shape)) for a in args if isinstance(a, Tensor))
        raise PercgradError(f"the model's forward pass on input of shape {shapes} raised "
                            f"{_first_line(exc)}{_where(exc)}{hint}", "TARGET") from None


def one_pass(model: nn.Module, args: Sequence[Any], kind: str, targets: Tensor | None,
             seed: int) -> tuple[Pass, Tensor | None]:
    """Forward (hooked), loss, backward; ``targets`` drawn when the loss needs them and none
    were given (returned, so that later steps reuse them)."""
    notes: list[Note] = []
    model.zero_grad(set_to_none=True)
    # autograd on whatever the caller's (or the user's code's) setting: a pass without it would
    # show every ‖∂E/∂W‖ as 0 and call the model healthy
    with hooked(model) as records, torch.enable_grad():
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
    grads = {name: (None if p.grad is None else p.grad.detach().clone())
             for name, p in model.named_parameters()}
    return Pass(float(e.detach()), tuple(out.shape), records, grads, notes), targets


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
    """Per leaf module that ran, in forward order, over the parameters it holds itself (read
    right after the pass: ``.grad``)."""
    owned = own_parameters(model)
    ran = sorted(((result.records[name], module) for name, module in leaves(model)
                  if name in result.records), key=lambda item: item[0].order)
    stats = []
    for rec, module in ran:
        own = owned[rec.name]
        got = [p.grad for p in own if p.grad is not None]
        finite_back = rec.grad_out_finite and rec.grad_in_finite and all(
            bool(torch.isfinite(g).all()) for g in got)
        stats.append(ModuleStats(
            name=label(rec.name), type=type(module).__name__,
            params=sum(p.numel() for p in own), weight_norm=_norm(own) if own else None,
            grad_norm=_norm(got) if got else (0.0 if own else None),
            output_grad_norm=math.sqrt(rec.out_sq) if rec.got_grad else None,
            dead=rec.dead, saturated=rec.saturated, finite_forward=rec.out_finite,
            finite_backward=finite_back,
            weight_layer=any(p.dim() >= 2 for p in own),
        ))
    return stats
