"""The recorder of ``percgrad watch``: hooks on the watched models and on every optimizer step,
a few reductions per parameter per watched step, synced once per step.

A step is an optimizer step. Just before it (gradients ready, weights not yet moved) the
recorder checks that the loss and every gradient are finite (every step: the first non-finite
one is located before the optimizer spreads it into the weights) and, on a watched step, takes
‖∂E/∂W‖ and ‖W‖ per parameter and a copy of the weights; just after it, ‖ΔW‖. The loss is the
last scalar ``backward()`` was called on; dead and saturated shares come from forward hooks on
the activation modules, on the forward passes of watched steps only."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from percgrad.engines.hooks import DEAD_TYPES, SATURATING, label, owned_parameters
from percgrad.engines.saturation import SATURATION
from percgrad.engines.watch.producer import locate
from percgrad.reports.watch import ActivationTrack, ModuleTrack, NonFinite, WatchReport
from percgrad.version import __version__

Listener = Callable[["Recorder"], None]
"""Called with the recorder after each watched step (cheap: it pulls what it needs)."""


@dataclass
class _Model:
    """One watched model: its tracks and what the localisation of a non-finite value needs."""

    root: nn.Module
    prefix: str
    tracks: list[ModuleTrack]
    params: list[list[nn.Parameter]]
    """Per track, the parameters it owns."""
    names: dict[int, str]
    """id(module) → its path."""
    activations: list[tuple[nn.Module, ActivationTrack]]
    handles: list[Any] = field(default_factory=list)
    last_call: tuple[tuple[Any, ...], dict[str, Any], Any] | None = None
    """The root's last (args, kwargs, CPU random state)."""
    grad_output: Tensor | None = None
    """The gradient the root's (first float) output got in the last backward."""
    call_site: tuple[str, int] | None = None
    """Where the user's code last called the root (file, line)."""
    order: list[str] = field(default_factory=list)
    """Module paths in the order of their first forward call."""
    order_handles: list[Any] = field(default_factory=list)
    """The hooks that record ``order`` (removed after the first forward)."""


class Recorder:
    """Watches models through a training run (``percgrad.watch``; the script runner attaches one
    to every model an optimizer steps)."""

    def __init__(self, models: Sequence[nn.Module] = (), every: int = 1, locate_nonfinite: bool = True,
                 listener: Listener | None = None, target: str = "") -> None:
        self.every = every
        self.locate_nonfinite = locate_nonfinite
        self.listener = listener
        self.target = target
        self.models: list[_Model] = []
        self.steps: list[int] = []
        self.loss: list[float | None] = []
        self.step = 0
        self.nonfinite: NonFinite | None = None
        self._loss: Tensor | None = None
        self._loss_node: Any = None
        self._pending: list[tuple[ActivationTrack, Tensor]] = []
        self._before: list[Tensor] = []
        self._watched_params: list[nn.Parameter] = []
        self._ids: set[int] = set()
        self._global: list[Any] = []
        self._backward: Any = None
        self._started = time.perf_counter()
        self._recording_s = 0.0
        self._open = False
        self.discover: Callable[[torch.optim.Optimizer], None] | None = None
        """Script mode: finds and adds the models an optimizer steps (engines/watch/script.py)."""
        for m in models:
            self.add(m)

    # ------------------------------------------------------------------ attaching

    def add(self, root: nn.Module) -> None:
        """Watch ``root`` (once; a model inside one already watched is left to it)."""
        if any(root is m.root or any(root is s for s in m.root.modules()) for m in self.models):
            return
        if len(self.models) == 1:  # a second model: every name says its model from now on
            self._rename(self.models[0], self._prefix(self.models[0].root))
        prefix = self._prefix(root) if self.models else ""
        names = {id(mod): label(path) for path, mod in root.named_modules()}
        owned = owned_parameters(root)
        tracks, params = [], []
        for path, own in owned.items():
            mod = root.get_submodule(path)
            leaf = not any(True for _ in mod.children())
            tracks.append(ModuleTrack(_named(prefix, path), type(mod).__name__,
                                      sum(p.numel() for p in own.params), list(own.names),
                                      weight_layer=any(p.dim() >= 2 and p.requires_grad
                                                       for p in own.params)
                                      and (leaf or bool(path))))
            params.append(list(own.params))
        acts = []
        for path, mod in root.named_modules():
            kind = "dead" if isinstance(mod, DEAD_TYPES) else (
                "saturated" if type(mod) in SATURATING else None)
            if kind is not None:
                acts.append((mod, ActivationTrack(_named(prefix, path), type(mod).__name__, kind)))
        model = _Model(root, prefix, tracks, params, names, acts)
        # the rows already recorded for other models are padded, so every track has a value per step
        for t in tracks:
            t.grad_norm += [None] * len(self.steps)
            t.weight_norm += [None] * len(self.steps)
            t.update_ratio += [None] * len(self.steps)
        for _, a in acts:
            a.share += [None] * len(self.steps)
        self.models.append(model)
        self._hook(model)
        self._watched_params = [p for m in self.models for ps in m.params for p in ps]
        self._ids = {id(p) for p in self._watched_params}

    def _prefix(self, root: nn.Module) -> str:
        """``Type.`` before a model's module names when several are watched (``Type2.`` …
        for a second model of a type already watched)."""
        name = type(root).__name__
        taken = {m.prefix for m in self.models}
        k = 1
        while f"{name}{k if k > 1 else ''}." in taken:
            k += 1
        return f"{name}{k if k > 1 else ''}."

    def _rename(self, model: _Model, prefix: str) -> None:
        """Give a model's names ``prefix`` (it was the only one watched, and unprefixed)."""
        paths = {id(m): path for path, m in model.root.named_modules()}
        for track in model.tracks:
            track.name = prefix + track.name if track.name != label("") else prefix.rstrip(".")
        for mod, act in model.activations:
            act.name = _named(prefix, paths[id(mod)])
        model.order = [prefix + o if o != label("") else prefix.rstrip(".") for o in model.order]
        model.prefix = prefix

    def _hook(self, model: _Model) -> None:
        def remember(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if self.locate_nonfinite and self.nonfinite is None:
                model.last_call = (args, kwargs, torch.get_rng_state())
                model.call_site = _call_site()

        def output(mod: nn.Module, args: Any, kwargs: Any, out: Any) -> None:
            for h in model.order_handles:  # the order is known after one forward
                h.remove()
            model.order_handles.clear()
            if not self.locate_nonfinite or self.nonfinite is not None:
                return
            first = next((t for t in _tensors(out) if t.requires_grad), None)
            if first is not None:
                def keep(g: Tensor) -> None:
                    model.grad_output = g.detach()
                first.register_hook(keep)

        def first_call(path: str) -> Callable[..., None]:
            def hook(mod: nn.Module, args: Any) -> None:
                if path not in model.order:
                    model.order.append(path)
            return hook

        model.handles.append(model.root.register_forward_pre_hook(remember, with_kwargs=True))
        model.handles.append(model.root.register_forward_hook(output, with_kwargs=True))
        if not model.order:
            model.order_handles = [mod.register_forward_pre_hook(first_call(_named(model.prefix,
                                                                                   path)))
                                   for path, mod in model.root.named_modules()]
        for mod, track in model.activations:
            model.handles.append(mod.register_forward_hook(self._activation(track)))

    def _activation(self, track: ActivationTrack) -> Callable[..., None]:
        def hook(mod: nn.Module, args: tuple[Any, ...], out: Any) -> None:
            if not self._watching(self.step) or not isinstance(out, Tensor) or out.dim() < 1:
                return
            o = out.detach()
            if track.kind == "dead":
                share = ((o == 0).all(dim=0) if o.dim() >= 2 else (o == 0)).float().mean()
            else:
                a = args[0].detach() if args and isinstance(args[0], Tensor) else None
                if a is None or a.shape != o.shape:
                    return
                deriv = (o * (1 - o)) / 0.25 if track.type == "Sigmoid" else (1 - o * o)
                share = (deriv.abs() < SATURATION).float().mean()
            # NaN is neither dead nor saturated: the share is unknown that step (no sync here)
            share = torch.where(torch.isfinite(o).all(), share, torch.full_like(share, math.nan))
            self._pending.append((track, share))
        return hook

    def open(self) -> Recorder:
        """Start: global hooks on every optimizer step and on backward()."""
        if self._open:
            return self
        self._open = True
        from torch.optim.optimizer import (
            register_optimizer_step_post_hook,
            register_optimizer_step_pre_hook,
        )

        self._global = [register_optimizer_step_pre_hook(self._pre),
                        register_optimizer_step_post_hook(self._post)]
        original = torch.Tensor.backward

        def backward(tensor: Tensor, *args: Any, **kwargs: Any) -> Any:
            if tensor.dim() == 0 and tensor.is_floating_point():
                self._loss, self._loss_node = tensor.detach(), tensor.grad_fn
            return original(tensor, *args, **kwargs)

        self._backward = original
        torch.Tensor.backward = backward  # type: ignore[method-assign,assignment]
        return self

    def close(self) -> None:
        """Remove every hook; the models are as they were."""
        if not self._open:
            return
        self._open = False
        for h in self._global:
            h.remove()
        if self._backward is not None:
            torch.Tensor.backward = self._backward  # type: ignore[method-assign]
        for m in self.models:
            for h in m.handles + m.order_handles:
                h.remove()
            m.handles.clear()
            m.order_handles.clear()

    def __enter__(self) -> Recorder:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ steps

    def _watching(self, step: int) -> bool:
        return step % self.every == 0

    def _mine(self, optimizer: torch.optim.Optimizer) -> bool:
        if optimizer is _ANY:
            return True
        ids = self._ids
        return any(id(p) in ids for g in optimizer.param_groups for p in g["params"])

    def _pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.discover is not None and optimizer is not _ANY:
            self.discover(optimizer)
        if not self._mine(optimizer):
            return
        started = time.perf_counter()
        watched = self._watching(self.step)
        if self.nonfinite is None and not self._finite(watched):
            self.nonfinite = self._locate()
        if watched:
            self._record_pre()
        self._recording_s += time.perf_counter() - started

    def _finite(self, watched: bool) -> bool:
        """Whether this step's loss is finite, and on a watched step every gradient too (max
        |g|, ord ∞: a sum of squares could overflow where no value is ∞). Between watched steps
        only the loss is read: a gradient that turns non-finite with a finite loss is caught one
        step later, in the weights its update made non-finite."""
        checks: list[Tensor] = []
        if watched:
            grads = [p.grad for p in self._watched_params if p.grad is not None]
            dense = [g if g.layout == torch.strided else g.coalesce().values() for g in grads]
            checks = list(torch._foreach_norm(dense, math.inf)) if dense else []
        if self._loss is not None:
            checks.append(self._loss.float())
        elif not watched:  # no loss seen (a loop without backward()): the weights then
            checks = list(torch._foreach_norm([p.detach() for p in self._watched_params],
                                              math.inf))
        if not checks:
            return True
        return bool(torch.isfinite(torch.stack([c.float().reshape(()).cpu() for c in checks])).all())

    def _post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not self._mine(optimizer):
            return
        started = time.perf_counter()
        if self._watching(self.step) and getattr(self, "_copied", False):
            self._record_post()
        self.step += 1
        self._recording_s += time.perf_counter() - started
        if self.listener is not None and self._watching(self.step - 1):
            self.listener(self)

    def step_done(self) -> None:
        """A step of a loop without a torch optimizer (the Python API), called once the
        gradients are ready: records them and the weights (no update ratio: that needs the
        optimizer's step between the two hooks)."""
        self._pre(_ANY, (), {})
        self._post(_ANY, (), {})

    def _record_pre(self) -> None:
        """‖∂E/∂W‖ and ‖W‖ per track and a copy of the weights, as device tensors (no sync)."""
        self._norms: list[tuple[ModuleTrack, Tensor | None, Tensor]] = []
        for m in self.models:
            for track, ps in zip(m.tracks, m.params):
                gs = [p.grad if p.grad.layout == torch.strided else p.grad.coalesce().values()
                      for p in ps if p.grad is not None]
                g = _norm(gs) if gs else None
                self._norms.append((track, g, _norm([p.detach() for p in ps])))
        params = [p.detach() for m in self.models for ps in m.params for p in ps]
        if len(self._before) != len(params) or any(
                b.shape != p.shape or b.device != p.device for b, p in zip(self._before, params)):
            self._before = [p.clone() for p in params]
        else:
            with torch.no_grad():
                for b, p in zip(self._before, params):
                    b.copy_(p)
        self._copied = True

    def _record_post(self) -> None:
        """‖ΔW‖ per track, then one sync for everything this step recorded."""
        params = [p.detach() for m in self.models for ps in m.params for p in ps]
        with torch.no_grad():
            torch._foreach_sub_(self._before, params)
            deltas = torch._foreach_norm(self._before)
        k = 0
        flat: list[Tensor] = []
        for m in self.models:
            for ps in m.params:
                flat.append(torch.stack(deltas[k:k + len(ps)]).square().sum().sqrt())
                k += len(ps)
        n = len(flat)
        flat += [w for _, _, w in self._norms]
        grads = [g for _, g, _ in self._norms if g is not None]
        flat += grads
        pending, self._pending = self._pending, []
        flat += [share for _, share in pending]
        flat.append(self._loss.float() if self._loss is not None else torch.tensor(math.nan))
        values = torch.stack([t.float().cpu() for t in flat]).tolist()  # the one sync
        at = 2 * n
        for i, (track, g, _) in enumerate(self._norms):
            d, w = values[i], values[n + i]
            if g is None:
                track.grad_norm.append(None)
            else:
                track.grad_norm.append(values[at])
                at += 1
            track.weight_norm.append(w)
            track.update_ratio.append(d / w if w > 0 and d > 0 and math.isfinite(d / w) else None)
        seen = {id(track): values[at + j] for j, (track, _) in enumerate(pending)
                if math.isfinite(values[at + j])}
        for m in self.models:
            for _, a in m.activations:
                a.share.append(seen.get(id(a)))
        loss = values[-1]
        self.steps.append(self.step)
        self.loss.append(loss if math.isfinite(loss) else None)
        self._copied = False

    def _locate(self) -> NonFinite:
        """Where the first non-finite value of this step came from."""
        for m in self.models:
            for track, ps in zip(m.tracks, m.params):
                if not all(bool(torch.isfinite(p.detach()).all()) for p in ps):
                    return NonFinite(self.step, "parameters", track.name, track.type)
        if not self.locate_nonfinite:
            return NonFinite(self.step, "backward")
        for m in self.models:
            if m.last_call is None:
                continue
            args, kwargs, rng = m.last_call
            for h in m.handles:  # the copy the step runs again on must not record
                h.remove()
            m.handles.clear()
            try:
                found = locate(m.root, m.names, args, kwargs, rng, m.grad_output, self.step,
                               call_site=m.call_site)
            finally:
                self._hook(m)
            if found.module is not None and m.prefix:
                found.module = _named(m.prefix, "" if found.module == label("") else found.module)
            if found.op is not None or found.phase == "loss":
                return found
        loss = self._loss
        if loss is not None and not bool(torch.isfinite(loss).all()):
            # the models' forward and backward are finite: the loss, computed outside them, is not
            value = float(loss)
            return NonFinite(self.step, "loss", op=_chain(self._loss_node),
                             value="nan" if value != value else ("inf" if value > 0 else "-inf"))
        return NonFinite(self.step, "backward")

    # ------------------------------------------------------------------ the report

    def tracks(self) -> tuple[list[ModuleTrack], list[ActivationTrack]]:
        """The module tracks (forward order, model by model) and the activation tracks."""
        return ([t for m in self.models for t in _ordered(m)],
                [a for m in self.models for _, a in m.activations])

    def report(self, exit_code: int | None = None, interrupted: bool = False) -> WatchReport:
        """What was recorded so far, with its verdicts."""
        from percgrad.engines.watch.verdicts import verdicts

        modules, acts = self.tracks()
        return WatchReport(
            target=self.target, models=[type(m.root).__name__ for m in self.models],
            every=self.every, steps=list(self.steps), loss=list(self.loss), modules=modules,
            activations=acts, verdicts=verdicts(modules, acts, self.steps, self.nonfinite),
            nonfinite=self.nonfinite, total_steps=self.step, exit_code=exit_code,
            interrupted=interrupted,
            timing={"run_s": time.perf_counter() - self._started,
                    "recording_s": self._recording_s},
            version=__version__)


_SKIP = (os.path.dirname(torch.__file__), os.path.dirname(os.path.dirname(__file__)))


def _call_site() -> tuple[str, int] | None:
    """The innermost frame of the caller outside torch and percgrad (a few frames up)."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith(_SKIP) and not name.startswith("<"):
            return name, frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _chain(node: Any, depth: int = 4) -> str | None:
    """The loss's last autograd nodes, outermost first (``MeanBackward0 ← PowBackward0``)."""
    names: list[str] = []
    while node is not None and len(names) < depth:
        names.append(type(node).__name__)
        node = next((n for n, _ in getattr(node, "next_functions", ()) if n is not None), None)
    return " ← ".join(names) or None


def _named(prefix: str, path: str) -> str:
    """A module's name in the report: its path after its model's prefix (the root: the model)."""
    if not prefix:
        return label(path)
    return prefix + path if path else prefix.rstrip(".")


def _norm(tensors: list[Tensor]) -> Tensor:
    """‖·‖ over several tensors, on their device."""
    return torch.stack(torch._foreach_norm(tensors)).square().sum().sqrt()


def _ordered(model: _Model) -> list[ModuleTrack]:
    """A model's tracks in the order their modules were first called (the others after)."""
    rank = {name: k for k, name in enumerate(model.order)}
    return sorted(model.tracks, key=lambda t: rank.get(t.name, len(rank)))


def _tensors(value: Any) -> list[Tensor]:
    from torch.utils._pytree import tree_flatten

    leaves, _ = tree_flatten(value)
    return [t for t in leaves if isinstance(t, Tensor) and t.is_floating_point()]


_ANY: Any = object()
"""Stands for an optimizer that steps every watched parameter (``step_done``)."""
