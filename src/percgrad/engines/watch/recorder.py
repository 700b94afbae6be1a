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

KEPT = 2000
"""With no --every, a run keeps at most this many recorded steps (see Recorder._thin)."""

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

    def __init__(self, models: Sequence[nn.Module] = (), every: int | None = None,
                 locate_nonfinite: bool = True,
                 listener: Listener | None = None, target: str = "") -> None:
        self.auto = every is None
        """No --every: every step while fewer than KEPT are recorded, then thinned (see _thin)."""
        self.every = 1 if every is None else every
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
            first = (out if isinstance(out, Tensor) and out.is_floating_point() else
                     next((t for t in _tensors(out) if t.requires_grad), None))
            if first is not None and not first.requires_grad:
                first = None
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
                # 0 for every sample (relu ≥ 0): the largest over the batch is 0
                share = ((o.amax(dim=0) if o.dim() >= 2 else o) == 0).float().mean()
            else:
                a = args[0].detach() if args and isinstance(args[0], Tensor) else None
                if a is None or a.shape != o.shape:
                    return
                deriv = (o * (1 - o)) / 0.25 if track.type == "Sigmoid" else (1 - o * o)
                share = (deriv.abs() < SATURATION).float().mean()
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
        if self.auto and len(self.steps) >= KEPT and self._watching(self.step):
            self._thin()
        watched = self._watching(self.step)
        if watched:
            self._record_pre()
        else:
            self._pending.clear()  # shares of a forward the thinning just stopped recording
        if self.nonfinite is None and not self._finite(watched):
            self.nonfinite = self._locate()
        self._recording_s += time.perf_counter() - started

    def _finite(self, watched: bool) -> bool:
        """Whether this step's loss is finite, and on a watched step every gradient too (from
        the norms ``_record_pre`` took). Between watched steps only the loss is read: a gradient
        that turns non-finite with a finite loss is caught one step later, in the weights its
        update made non-finite."""
        checks: list[Tensor] = []
        if watched and self._grads is not None:
            # the float64 norms just taken: one is not finite exactly where a value is not
            # (float32 squares cannot overflow float64)
            checks = [self._grads.sum()]
        if self._loss is not None:
            if not watched:
                return math.isfinite(float(self._loss))  # one number: read it (a sync)
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

    _stepped = True
    """Whether an optimizer step came between the two hooks (not with ``step_done``)."""

    def step_done(self) -> None:
        """A step of a loop without a torch optimizer (the Python API), called once the
        gradients are ready: records them and the weights (no update ratio: that needs the
        optimizer's step between the two hooks)."""
        self._stepped = False
        try:
            self._pre(_ANY, (), {})
            self._post(_ANY, (), {})
        finally:
            self._stepped = True

    def _record_pre(self) -> None:
        """‖∂E/∂W‖ and ‖W‖ of every track and a copy of the weights, in a few batched ops on the
        device (no sync): a norm per tensor, then squares summed per track."""
        params = [p.detach() for m in self.models for ps in m.params for p in ps]
        owner = self._owner(params[0].device) if params else None
        with torch.no_grad():
            self._weights = _per_track(torch._foreach_norm(params), owner, self._tracks) \
                if params and owner is not None else None
            got = [(k, p.grad) for k, p in enumerate(self._watched_params) if p.grad is not None]
            grads = [g if g.layout == torch.strided else g.coalesce().values() for _, g in got]
            tracks = self._owner_list  # the same owners, on the host: no device read
            self._has_grad = {tracks[k] for k, _ in got}
            self._grads = None
            if grads and owner is not None:
                index = owner[[k for k, _ in got]]
                # in float64: a vanishing gradient's ‖g‖ (1e-20, say) squares to 0 in float32
                self._grads = _per_track(torch._foreach_norm(grads, 2, dtype=torch.float64),
                                         index, self._tracks)
            if len(self._before) != len(params) or any(
                    b.shape != p.shape or b.device != p.device
                    for b, p in zip(self._before, params)):
                self._before = [p.clone() for p in params]
            elif params:
                torch._foreach_copy_(self._before, params)
        self._copied = True

    def _owner(self, device: torch.device) -> Tensor:
        """Per watched parameter, the index of its track (cached on ``device``)."""
        cached = getattr(self, "_owner_index", None)
        if cached is None or cached.device != device or cached.numel() != len(self._watched_params):
            cached = torch.tensor(self._owner_list, dtype=torch.long, device=device)
            self._owner_index = cached
        return cached

    @property
    def _owner_list(self) -> list[int]:
        """Per watched parameter, the index of its track."""
        return [t for t, ps in enumerate(ps for m in self.models for ps in m.params) for _ in ps]

    @property
    def _tracks(self) -> int:
        return sum(len(m.tracks) for m in self.models)

    def _record_post(self) -> None:
        """‖ΔW‖ per track, then one sync for everything this step recorded."""
        params = [p.detach() for m in self.models for ps in m.params for p in ps]
        n = self._tracks
        dev = params[0].device if params else torch.device("cpu")
        nan = torch.full((n,), math.nan, dtype=torch.float64, device=dev)
        with torch.no_grad():
            if params:
                torch._foreach_sub_(self._before, params)
                deltas = _per_track(torch._foreach_norm(self._before), self._owner(dev), n)
            else:
                deltas = nan
        pending, self._pending = self._pending, []
        parts = [deltas, self._weights if self._weights is not None else nan,
                 self._grads if self._grads is not None else nan,
                 torch.stack([share.float() for _, share in pending]) if pending
                 else torch.zeros(0, device=dev),
                 (self._loss.float() if self._loss is not None
                  else torch.tensor(math.nan)).reshape(1).to(dev)]
        values = torch.cat([t.double() for t in parts]).cpu().tolist()  # the one sync
        tracks = [t for m in self.models for t in m.tracks]
        loss = values[-1]
        for i, track in enumerate(tracks):
            d, w, g = values[i], values[n + i], values[2 * n + i]
            track.grad_norm.append(g if i in self._has_grad else None)
            track.weight_norm.append(w)
            track.update_ratio.append(d / w if self._stepped and w > 0 and math.isfinite(d / w)
                                      else None)
        # a share from outputs that held NaN is unknown: the step's loss tells
        seen = {id(track): values[3 * n + j] for j, (track, _) in enumerate(pending)
                if math.isfinite(loss)}
        for m in self.models:
            for _, a in m.activations:
                a.share.append(seen.get(id(a)))
        self.steps.append(self.step)
        self.loss.append(loss if math.isfinite(loss) else None)
        self._copied = False

    def _thin(self) -> None:
        """Keep every other recorded step (those on multiples of twice the interval) and record
        half as often from now on: a long run keeps between KEPT/2 and KEPT evenly spaced steps,
        so memory, the verdicts and the heatmap stay bounded however long it trains."""
        self.every *= 2
        keep = [k for k, step in enumerate(self.steps) if step % self.every == 0]

        def thin(values: list[Any]) -> list[Any]:
            return [values[k] for k in keep]

        self.steps, self.loss = thin(self.steps), thin(self.loss)
        for m in self.models:
            for t in m.tracks:
                t.grad_norm, t.weight_norm = thin(t.grad_norm), thin(t.weight_norm)
                t.update_ratio = thin(t.update_ratio)
            for _, a in m.activations:
                a.share = thin(a.share)

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

    def report(self, exit_code: int | None = None, interrupted: bool = False,
               judged: bool = True) -> WatchReport:
        """What was recorded so far, with its verdicts (none when not ``judged``: a live view
        between its slower refreshes)."""
        from percgrad.engines.watch.verdicts import verdicts

        modules, acts = self.tracks()
        return WatchReport(
            target=self.target, models=[type(m.root).__name__ for m in self.models],
            every=self.every, steps=list(self.steps), loss=list(self.loss), modules=modules,
            notes=[f"recorded every {self.every}th optimizer step: every step up to {KEPT:,} "
                   "recorded, then every other one dropped and the interval doubled, so that a "
                   "long run keeps its whole course (--every N fixes the interval)"]
            if self.auto and self.every > 1 else [],
            activations=acts,
            verdicts=verdicts(modules, acts, self.steps, self.nonfinite) if judged else [],
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


def _chain(node: Any, depth: int = 3) -> str | None:
    """The loss's last autograd nodes, outermost first, every branch
    (``AddBackward0 ← (MeanBackward0 ← PowBackward0, LogBackward0 ← SubBackward0)``)."""
    if node is None:
        return None
    name = type(node).__name__
    inputs = [n for n, _ in getattr(node, "next_functions", ()) if n is not None
              and type(n).__name__ != "AccumulateGrad"]
    if depth <= 1 or not inputs:
        return name
    parts = [part for part in (_chain(n, depth - 1) for n in inputs[:3]) if part]
    if not parts:
        return name
    inner = parts[0] if len(parts) == 1 else f"({', '.join(parts)})"
    return f"{name} ← {inner}"


def _named(prefix: str, path: str) -> str:
    """A module's name in the report: its path after its model's prefix (the root: the model)."""
    if not prefix:
        return label(path)
    return prefix + path if path else prefix.rstrip(".")


def _per_track(norms: Sequence[Tensor], owner: Tensor, tracks: int) -> Tensor:
    """Per track, ‖·‖ over its tensors from each tensor's own norm (squares summed by owner)."""
    # float64: a norm of 1e-20 squared would underflow to 0 in float32
    squares = torch.stack(list(norms)).double().square()
    return torch.zeros(tracks, dtype=torch.float64, device=squares.device).index_add_(
        0, owner, squares).sqrt()


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
