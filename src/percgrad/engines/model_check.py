"""The gradient check of a user's model on a float64 copy in eval mode, and of one module on
its own recorded input: autograd against central differences over the flat vector of its
parameters (and inputs), by gradcheck.function's objective."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from percgrad.engines.hooks import float_tensors, no_inplace
from percgrad.engines.model_loss import loss_value, main_output
from percgrad.engines.user_data import random_tensor, split_inputs
from percgrad.gradcheck.function import COTANGENT_SALT, Objective, run_objective
from percgrad.reports.user import GradCheck
from percgrad.runtime.progress import Progress
from percgrad.spec import check as judge


def to_float64(value: Any) -> Any:
    """A floating-point tensor as a detached float64 one; anything else as it is."""
    if isinstance(value, Tensor) and value.is_floating_point():
        return value.detach().to(torch.float64)
    return value


def float64_copy(model: nn.Module) -> nn.Module:
    """A float64 copy of ``model`` in eval mode, in-place activations off."""
    m64 = copy.deepcopy(model)
    no_inplace(m64)
    return m64.to(torch.float64).eval()


def param_objective(module: nn.Module, args: Sequence[Any], kwargs: dict[str, Any],
                    finish: Callable[[Any], Tensor], with_inputs: bool, prefix: str = "",
                    ) -> Objective | None:
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
    wrt: list[Tensor] = [p for _, p in named]
    live = list(args)
    for i in inputs:
        live[i] = args[i].detach().clone().requires_grad_(True)
        wrt.append(live[i])
    with torch.enable_grad():
        module.zero_grad(set_to_none=True)
        raw = module(*live, **kwargs)
        e = finish(raw)
        outs = float_tensors(raw)
        carried = [o for o in outs if o.requires_grad]
        got = torch.autograd.grad(e, wrt + carried, allow_unused=True) if e.requires_grad \
            else [None] * (len(wrt) + len(carried))
    grads = [torch.zeros_like(t) if g is None else g.detach() for t, g in zip(wrt, got)]
    out_grads = got[len(wrt):]
    magnitude = abs(float(e.detach())) + sum(
        float((g.abs() * o.detach().abs()).sum()) for g, o in zip(out_grads, carried) if g is not None)
    theta = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in wrt])
    starts = [0]
    for t in wrt:
        starts.append(starts[-1] + t.numel())
    fixed = tuple(args)

    def piece(row: Tensor, k: int) -> Tensor:
        return row[starts[k]:starts[k + 1]].view(shapes[k])

    def call_args(row: Tensor) -> tuple[Any, ...]:
        call = list(fixed)
        for j, i in enumerate(inputs):
            call[i] = piece(row, len(named) + j)
        return tuple(call)

    def fn(row: Tensor) -> Tensor:
        params = {n: piece(row, j) for j, (n, _) in enumerate(named)}
        return finish(torch.func.functional_call(module, params, call_args(row), kwargs))

    def loop_fn(row: Tensor) -> Tensor:
        for j, (_, p) in enumerate(named):
            p.detach().copy_(piece(row, j))
        return finish(module(*call_args(row), **kwargs))

    row_bytes = 8 * 4 * sum(o.numel() for o in outs)
    shared = shares_parameters(module)
    return Objective(theta, names, shapes, loop_fn if shared else fn, [grads],
                     torch.tensor([magnitude]), None, row_bytes, loop_fn, vectorize=not shared)


def shares_parameters(module: nn.Module) -> bool:
    """Whether one parameter sits in two places of ``module`` (the same nn.Linear used twice):
    torch.func.functional_call then leaves plain tensors where the shared parameter was (and
    batched ones under vmap), so the check writes each row into the parameters, in a loop."""
    every = sum(1 for _ in module.named_parameters(remove_duplicate=False))
    return every != sum(1 for _ in module.named_parameters())


@contextmanager
def restored(module: nn.Module) -> Iterator[None]:
    """The module's parameters as they were, after a check that wrote rows into them: the
    Parameter objects themselves put back where a functional call left another tensor, then
    their values."""
    saved = [(m, name, p, p.detach().clone()) for m in module.modules()
             for name, p in m._parameters.items() if p is not None]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, name, p, v in saved:
                if m._parameters.get(name) is not p:
                    m._parameters[name] = p
                p.copy_(v)


def check_model(m64: nn.Module, args64: Sequence[Any], kind: str, t64: Tensor | None,
                method: str, tol: float, seed: int, row_bytes: int,
                progress: Progress | None = None) -> GradCheck:
    """The whole model's gradient (autograd, float64 copy in eval mode) against central
    differences of E over its flat parameter vector."""
    n_params = sum(p.numel() for p in m64.parameters() if p.requires_grad)
    if n_params == 0:
        return GradCheck("off", tol, None, None, reason="no-parameters")
    chosen = judge.method(method, n_params)
    if chosen == "off":
        return GradCheck("off", tol, None, None, reason="off")

    def finish(out: Any) -> Tensor:
        return loss_value(kind, main_output(out), t64)

    pos, kw = split_inputs(args64)
    obj = param_objective(m64, pos, kw, finish, with_inputs=False)
    assert obj is not None
    obj.row_bytes = max(obj.row_bytes, row_bytes)
    with restored(m64):
        check, _ = run_objective(obj, chosen, tol, seed, progress)
    return check


def check_module(module: nn.Module, args: Sequence[Any], kwargs: dict[str, Any], tol: float,
                 seed: int, salt: int, name: str = "") -> GradCheck | None:
    """A module on its own recorded input: autograd's gradient of v·module(x), v a random
    cotangent, for its parameters and its input, against central differences."""
    with torch.no_grad():
        probe = module(*args, **kwargs)
    outs = float_tensors(probe)
    if not outs:
        return None
    cot = [random_tensor(tuple(o.shape), seed, torch.float64, o.device, salt=COTANGENT_SALT + salt + k)
           for k, o in enumerate(outs)]

    def finish(out: Any) -> Tensor:
        got = float_tensors(out)
        total = torch.zeros((), dtype=torch.float64, device=cot[0].device)
        for v, o in zip(cot, got):
            total = total + (v * o.to(torch.float64)).sum()
        return total

    obj = param_objective(module, args, kwargs, finish, with_inputs=True, prefix=name)
    if obj is None:
        return None
    entries = obj.theta.numel()
    with restored(module):
        check, _ = run_objective(obj, judge.method("auto", entries), tol, seed + salt)
    return check
