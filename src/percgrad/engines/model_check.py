"""The gradient check of a user's model on a float64 copy in eval mode, and of one module on
its own recorded input: autograd against central differences over the flat vector of its
parameters (and inputs), by gradcheck.function's objective. A row evaluated alone writes only
the tensors it perturbs (WrittenRows) and replays the module calls they leave unchanged
(engines.replay)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from percgrad.engines.hooks import float_tensors, no_inplace
from percgrad.engines.model_loss import loss_value, main_output
from percgrad.engines.replay import Replay, same
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
    live = [a.clone() if isinstance(a, Tensor) else a for a in args]  # a forward may write into them
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
    grads = [torch.zeros_like(t) if g is None else
             (g.detach() if g.layout == torch.strided else g.detach().to_dense())
             for t, g in zip(wrt, got)]
    out_grads = got[len(wrt):]
    magnitude = abs(float(e.detach())) + sum(
        float((g.abs() * o.detach().abs()).sum()) for g, o in zip(out_grads, carried) if g is not None)
    theta = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in wrt])
    rows = WrittenRows(module, [p for _, p in named], theta, shapes, tuple(args), inputs, kwargs,
                       finish)

    def fn(row: Tensor) -> Tensor:
        params = {n: rows.piece(row, j) for j, (n, _) in enumerate(named)}
        return finish(torch.func.functional_call(module, params, rows.call_args(row), kwargs))

    row_bytes = 8 * 4 * sum(o.numel() for o in outs)
    shared = shares_parameters(module)
    return Objective(theta, names, shapes, rows if shared else fn, [grads],
                     torch.tensor([magnitude]), None, row_bytes, rows, vectorize=not shared)


class WrittenRows:
    """The objective for the plain loop: a dense row written into the module's parameters, or
    (``shifted``, see blackbox.FunctionObjective) θ shifted on one span, written into the few
    tensors that span covers and put back after, so that a row costs one forward pass and the
    copies of the tensors it perturbs, not of every parameter."""

    def __init__(self, module: nn.Module, params: list[Tensor], theta: Tensor,
                 shapes: list[tuple[int, ...]], fixed: tuple[Any, ...], inputs: list[int],
                 kwargs: dict[str, Any], finish: Callable[[Any], Tensor]) -> None:
        self.module, self.params, self.theta, self.shapes = module, params, theta, shapes
        self.fixed, self.inputs, self.kwargs, self.finish = fixed, inputs, kwargs, finish
        self.starts = [0]
        for shape in shapes:
            self.starts.append(self.starts[-1] + math.prod(shape))
        self.dirty = False
        """The parameters hold a row other than θ."""
        self.replay: Replay | None = None
        """The module's calls at θ, recorded at the first shifted row (None: not recorded, or
        replay is off: a module without children, or a replayed row that differed)."""
        self.recorded = self.verified = False

    def piece(self, row: Tensor, k: int) -> Tensor:
        """Tensor ``k`` of a row."""
        return row[self.starts[k]:self.starts[k + 1]].view(self.shapes[k])

    def call_args(self, row: Tensor) -> tuple[Any, ...]:
        """The positional inputs, those checked taken from the row."""
        # copies: a forward that changes its input in place must see the same input every time
        call = [a.clone() if isinstance(a, Tensor) else a for a in self.fixed]
        for j, i in enumerate(self.inputs):
            call[i] = self.piece(row, len(self.params) + j)
        return tuple(call)

    def __call__(self, row: Tensor) -> Tensor:
        """f of a dense row, written into the parameters."""
        for j, p in enumerate(self.params):
            p.detach().copy_(self.piece(row, j))
        self.dirty = row.data_ptr() != self.theta.data_ptr()
        return self.finish(self.module(*self.call_args(row), **self.kwargs))

    def reset(self) -> None:
        """θ back into every parameter."""
        for j, p in enumerate(self.params):
            p.detach().copy_(self.piece(self.theta, j))
        self.dirty = False

    def shifted(self, start: int, delta: Tensor) -> Tensor:
        """f at θ with ``delta`` added from entry ``start`` on (the sums a dense row makes)."""
        if self.dirty:
            self.reset()
        end = start + delta.numel()
        touched = [k for k in range(len(self.shapes))
                   if self.starts[k] < end and start < self.starts[k + 1]]
        call = list(self.call_args(self.theta))
        n = len(self.params)
        if not self.recorded:
            self._record(tuple(call))
        try:
            for k in touched:
                lo, hi = max(start, self.starts[k]), min(end, self.starts[k + 1])
                value = self.piece(self.theta, k).clone()
                value.view(-1)[lo - self.starts[k]:hi - self.starts[k]] += delta[lo - start:hi - start]
                if k < n:
                    self.params[k].detach().copy_(value)
                else:
                    call[self.inputs[k - n]] = value
            return self._evaluate(tuple(call), {id(self.params[k]) for k in touched if k < n})
        finally:
            for k in touched:
                if k < n:
                    self.params[k].detach().copy_(self.piece(self.theta, k))

    def _record(self, call: tuple[Any, ...]) -> None:
        """The module's calls at θ, for replay (engines.replay), when it has children."""
        self.recorded = True
        if not any(True for _ in self.module.children()):
            return
        replay = Replay(self.module, self.params)
        try:
            replay.record(lambda: self.finish(self.module(*call, **self.kwargs)))
        except Exception:  # the plain evaluation will meet (and report) the same error
            return
        self.replay = replay

    def _evaluate(self, call: tuple[Any, ...], touched: set[int]) -> Tensor:
        """f of the parameters as they are and ``call``, calls that the parameters of ids
        ``touched`` leave unchanged replayed; the first row that replays anything is evaluated
        in full too, and replay turned off if the two differ at all."""
        def run() -> Tensor:
            return self.finish(self.module(*call, **self.kwargs))

        if self.replay is None:
            return run()
        value, hits = self.replay.run(touched, run)
        if hits and not self.verified:
            full = run()
            if not same(value, full):
                self.replay = None
                return full
            self.verified = True
        return value


def shares_parameters(module: nn.Module) -> bool:
    """Whether one parameter sits in two places of ``module`` (the same nn.Linear used twice):
    torch.func.functional_call then leaves plain tensors where the shared parameter was (and
    batched ones under vmap), so the check writes each row into the parameters, in a loop."""
    every = sum(1 for _ in module.named_parameters(remove_duplicate=False))
    return every != sum(1 for _ in module.named_parameters())


@contextmanager
def restored(module: nn.Module, rows: WrittenRows | None = None) -> Iterator[None]:
    """The module's parameters as they were, after a check that wrote rows into them: the
    Parameter objects themselves put back where a functional call left another tensor, then
    their values (from ``rows``' θ when given, which holds them already: no copy is kept)."""
    saved = [(m, name, p, None if rows is not None else p.detach().clone())
             for m in module.modules() for name, p in m._parameters.items() if p is not None]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, name, p, v in saved:
                if m._parameters.get(name) is not p:
                    m._parameters[name] = p
                if v is not None:
                    p.copy_(v)
            if rows is not None:
                rows.reset()


def _rows(obj: Objective) -> WrittenRows | None:
    return obj.loop_fn if isinstance(obj.loop_fn, WrittenRows) else None


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
    with restored(m64, _rows(obj)):
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
    with restored(module, _rows(obj)):
        check, _ = run_objective(obj, judge.method("auto", entries), tol, seed + salt)
    return check
