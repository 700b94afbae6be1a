"""Hooks on a user's model: its modules, the parameters each module holds itself, and what
passes through each module forward (finiteness, dead and saturated units, its recorded input)
and backward (‖∂E/∂output‖, finiteness)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from percgrad.engines.saturation import saturated_share
from percgrad.engines.user_data import EMBEDDINGS
from percgrad.errors import PercgradError
from percgrad.gradcheck.compare import frobenius, stored_values
from percgrad.network.functions import activation

DEAD_TYPES: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6)
"""Activations whose units can die (output exactly 0 whatever the input)."""
SATURATING: dict[type[nn.Module], str] = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
"""Activation modules whose saturation is measured, by their catalog name."""


@dataclass
class Record:
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


def leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The leaf modules with their container paths (the model itself when it has no children)."""
    found = [(name, m) for name, m in model.named_modules() if not any(True for _ in m.children())]
    return found or [("", model)]


def containers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules with children, deepest first (the model itself last)."""
    found = [(name, m) for name, m in model.named_modules() if any(True for _ in m.children())]
    return sorted(found, key=lambda item: -len(item[0].split(".")) if item[0] else 1)


def own_parameters(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Every module's path (containers and the root included) → the parameters registered on
    that module itself, so that each parameter of the model is found under its module."""
    return {name: list(m.parameters(recurse=False)) for name, m in model.named_modules()}


@dataclass
class Owned:
    """The parameters a module registers itself, each once: a parameter reachable under several
    names (tied weights) belongs to the module of its first name, with its other names in
    ``also``."""

    params: list[nn.Parameter] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    """Their full names (``encoder.layers.0.self_attn.in_proj_weight``)."""
    also: list[str] = field(default_factory=list)
    """The other names of the same parameters, in other modules (``lm_head.weight``)."""


def owned_parameters(model: nn.Module) -> dict[str, Owned]:
    """Module path → the parameters it owns (see Owned), for the modules that own any, in the
    order of ``named_modules``; every parameter of the model is in exactly one of them."""
    owners: dict[str, Owned] = {}
    first: dict[int, str] = {}
    for full, p in model.named_parameters(remove_duplicate=False):
        path = full.rpartition(".")[0]
        if id(p) in first:
            owners[first[id(p)]].also.append(full)
            continue
        first[id(p)] = path
        own = owners.setdefault(path, Owned())
        own.params.append(p)
        own.names.append(full)
    return owners


def label(name: str) -> str:
    """A module's name for display: its path, or (model) for the root."""
    return name or "(model)"


def float_tensors(value: Any) -> list[Tensor]:
    """The floating-point tensors in ``value`` (a tensor, or dicts, lists and tuples of them)."""
    if isinstance(value, Tensor):
        return [value] if value.is_floating_point() else []
    if isinstance(value, dict):
        return [t for v in value.values() for t in float_tensors(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in float_tensors(v)]
    return []


def all_finite(tensors: Sequence[Tensor]) -> bool:
    """No NaN and no ±∞ in any of ``tensors`` (a sparse one's stored values)."""
    return all(bool(torch.isfinite(stored_values(t)).all()) for t in tensors)


def no_inplace(model: nn.Module) -> None:
    """Turn off ``inplace`` on every module that has it (ReLU(inplace=True) would overwrite the
    output another hook is reading; the values are the same)."""
    for m in model.modules():
        if isinstance(getattr(m, "inplace", None), bool):
            m.inplace = False  # type: ignore[assignment]


def token_ids(name: str, mod: nn.Module, args: tuple[Any, ...]) -> None:
    """Refuse a float input to an nn.Embedding (or EmbeddingBag), before torch's own complaint:
    it looks up integer token ids, which --input-shape draws with :long."""
    ids = args[0] if args else None
    if isinstance(ids, Tensor) and (ids.is_floating_point() or ids.is_complex()):
        shape = ",".join(map(str, ids.shape)) or "()"
        raise PercgradError(
            f"{f'module {name!r}' if name else 'the model'} ({type(mod).__name__}) looks up "
            f"integer token ids, and got {str(ids.dtype).removeprefix('torch.')} values of shape "
            f"{shape}: draw ids in [0, num_embeddings) with --input-shape {shape}:long, or give "
            "integer --data", "--input-shape")


def _forward_stats(rec: Record, mod: nn.Module, outs: list[Tensor], ins: list[Tensor]) -> None:
    """A leaf's finiteness, dead units (ReLU) and saturated outputs (sigmoid, tanh)."""
    rec.out_finite &= all_finite(outs)
    rec.in_finite &= all_finite(ins)
    if outs and isinstance(mod, DEAD_TYPES) and outs[0].dim() >= 1:
        o = outs[0].detach()
        units = (o == 0).all(dim=0) if o.dim() >= 2 else (o == 0)
        rec.dead = float(units.double().mean())
    if outs and ins and type(mod) in SATURATING:
        act = activation(SATURATING[type(mod)])
        a, h = ins[0].detach(), outs[0].detach()
        if a.shape == h.shape:
            rec.saturated = saturated_share(act.derivative(a, h).abs(), act)


@contextmanager
def hooked(model: nn.Module, record_inputs: bool = False,
           everything: bool = False, owners: Collection[str] = ()) -> Iterator[dict[str, Record]]:
    """Forward hooks on the leaf modules (every module with ``everything``) that record what
    passes through them, and tensor hooks on their outputs for ∂E/∂output. The containers
    named in ``owners`` are recorded too, in the order they are entered (a pre-hook), with
    nothing measured on them."""
    records: dict[str, Record] = {}
    on_leaves: list[Any] = []
    counter = [0]
    back = [0]
    targets = list(model.named_modules()) if everything else leaves(model)
    leaf_names = {name for name, _ in leaves(model)}

    def make(name: str) -> Callable[..., None]:
        def hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
            rec = records.get(name)
            if rec is None:
                rec = records[name] = Record(name, mod, counter[0])
                counter[0] += 1
                if record_inputs:
                    rec.args = tuple(a.detach() if isinstance(a, Tensor) else a for a in args)
                    rec.kwargs = dict(kwargs)
            outs = float_tensors(output)
            ins = float_tensors(args)
            rec.numel += sum(o.numel() for o in outs)
            if name not in leaf_names:
                return
            _forward_stats(rec, mod, outs, ins)
            for o in outs:
                if o.requires_grad:
                    keep(o, o.register_hook(on_grad_out(rec)))
            for a in ins:
                if a.requires_grad:
                    keep(a, a.register_hook(on_grad_in(rec)))
        return hook

    def keep(t: Tensor, handle: Any) -> None:
        # a hook on a leaf tensor (a parameter a module returns or takes) outlives the pass
        if t.is_leaf:
            on_leaves.append(handle)

    def on_grad_out(rec: Record) -> Callable[[Tensor], None]:
        def hook(g: Tensor) -> None:
            if rec.back_order is None:
                rec.back_order = back[0]
                back[0] += 1
            rec.got_grad = True
            norm = frobenius(g)
            rec.out_sq += norm * norm
            rec.grad_out_finite &= all_finite([g])
        return hook

    def on_grad_in(rec: Record) -> Callable[[Tensor], None]:
        def hook(g: Tensor) -> None:
            rec.grad_in_finite &= all_finite([g])
        return hook

    def ids(name: str) -> Callable[..., None]:
        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            token_ids(name, mod, args)
        return hook

    def enter(name: str) -> Callable[..., None]:
        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            if name not in records:
                records[name] = Record(name, mod, counter[0])
                counter[0] += 1
        return hook

    named = dict(model.named_modules())
    extra = [(name, named[name]) for name in owners
             if name in named and name not in leaf_names and not everything]
    handles = [module.register_forward_hook(make(name), with_kwargs=True)
               for name, module in [*targets, *extra]]
    handles += [module.register_forward_pre_hook(enter(name)) for name, module in extra]
    handles += [module.register_forward_pre_hook(ids(name)) for name, module in targets
                if isinstance(module, EMBEDDINGS)]
    try:
        yield records
    finally:
        for h in [*handles, *on_leaves]:
            h.remove()
