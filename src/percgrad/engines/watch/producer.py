"""Where a non-finite value is born: the step is run again on a copy of the model, under a
dispatch mode that sees every op, forward and backward, and names the first op whose inputs are
all finite and whose output is not (the producer, not an op that merely passes a NaN on), with
the module it ran in and the line of the user's code (for a backward op: the line of its
forward, from anomaly mode's record)."""

from __future__ import annotations

import copy
import linecache
import math
import os
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from percgrad.reports.watch import NonFinite

_SKIP = (os.path.dirname(torch.__file__), os.path.dirname(os.path.dirname(__file__)))
"""Frames inside torch or percgrad are not the user's code."""


def _floats(value: Any) -> list[Tensor]:
    leaves, _ = tree_flatten(value)
    return [t for t in leaves if isinstance(t, Tensor) and t.is_floating_point()
            and t.layout == torch.strided]


def _finite(tensors: Sequence[Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def _bad(tensors: Sequence[Tensor]) -> str:
    for t in tensors:
        bad = t[~torch.isfinite(t)]
        if bad.numel():
            v = float(bad.flatten()[0])
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return "nan"


def _user_frame(frames: Sequence[traceback.FrameSummary]) -> traceback.FrameSummary | None:
    """The innermost frame outside torch and percgrad."""
    for frame in reversed(frames):
        if not frame.filename.startswith(_SKIP) and not frame.filename.startswith("<"):
            return frame
    return None


def _forward_frame(node: Any) -> traceback.FrameSummary | None:
    """The user's frame that ran the forward of autograd ``node`` (anomaly mode's record)."""
    lines = (getattr(node, "metadata", None) or {}).get("traceback_") or []
    frames: list[traceback.FrameSummary] = []
    for text in lines:
        for part in text.strip().splitlines():
            part = part.strip()
            if part.startswith('File "'):
                name, _, rest = part[len('File "'):].partition('", line ')
                number = rest.partition(",")[0]
                if number.isdigit():
                    frames.append(traceback.FrameSummary(name, int(number), "", line=None))
    return _user_frame(frames)


TAG = "percgrad_module"
"""The key under which an autograd node's metadata holds the module whose forward made it."""


def _claim(out: Any, path: str, bound: set[Any]) -> None:
    """Tag the autograd nodes a module's forward made (those between its inputs and its
    outputs not tagged yet: an inner module's forward hook ran first and tagged its own)."""
    todo = [t.grad_fn for t in _floats(out) if t.grad_fn is not None]
    seen: set[int] = set()
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen or node in bound:
            continue
        seen.add(id(node))
        meta = getattr(node, "metadata", None)
        if meta is None or TAG in meta:
            continue
        meta[TAG] = path
        todo += [n for n, _ in getattr(node, "next_functions", ())]


@dataclass
class Found:
    """The first producing op seen."""

    op: str
    backward: bool
    module: str | None
    frame: traceback.FrameSummary | None
    value: str


class _Producer(TorchDispatchMode):
    """Remembers the first op with finite inputs and a non-finite output; in the forward, also
    which module ran each line of the user's code (a backward op is placed by its forward's)."""

    def __init__(self, where: list[str], lines: dict[tuple[str, int], str] | None = None,
                 depth: int = 0) -> None:
        super().__init__()
        self.found: Found | None = None
        self.where = where
        self.lines = lines
        self.depth = depth
        """Frames above the re-run (the optimizer hook that called it) are not its code."""

    def _stack(self) -> list[traceback.FrameSummary]:
        return list(traceback.extract_stack())[self.depth:]

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if self.found is not None:
            return out
        node = torch._C._current_autograd_node()
        here = None
        if node is None and self.lines is not None and self.where:
            here = _user_frame(self._stack())
            if here is not None and here.lineno is not None:
                self.lines.setdefault((here.filename, here.lineno), self.where[-1])
        outs = _floats(out)
        if outs and not _finite(outs) and _finite(_floats((args, kwargs))):
            frame = _forward_frame(node) if node is not None else (
                here or _user_frame(self._stack()))
            name = str(getattr(func, "overloadpacket", func))
            if node is not None:
                name += f" in {type(node).__name__}"
            module = self.where[-1] if self.where and node is None else None
            if module is None and node is not None:
                module = (getattr(node, "metadata", None) or {}).get(TAG)
            if module is None and frame is not None and self.lines is not None:
                module = self.lines.get((frame.filename, frame.lineno or 0))
            self.found = Found(name, node is not None, module, frame, _bad(outs))
        return out


def locate(root: nn.Module, names: dict[int, str], args: tuple[Any, ...], kwargs: dict[str, Any],
           rng: Any, grad_output: Tensor | None, step: int, output_index: int = 0,
           call_site: tuple[str, int] | None = None) -> NonFinite:
    """Run ``root`` again on a copy (same weights, inputs and random state) forward and, when
    the forward is finite, backward from ``grad_output`` (the gradient its output got in the
    step), and say where the first non-finite value was produced. ``names``: id(module) →
    path, for the original modules (the copy's are mapped through them); ``call_site``: where
    the user's code called the model (the line named when the op ran in torch's own code)."""
    depth = len(traceback.extract_stack())
    work = copy.deepcopy(root)
    paths = {id(c): names.get(id(o)) for o, c in zip(root.modules(), work.modules())}
    where: list[str] = []

    bounds: list[set[Any]] = []

    def enter(mod: nn.Module, args: Any) -> None:
        where.append(paths.get(id(mod)) or type(mod).__name__)
        bounds.append({t.grad_fn for t in _floats(args) if t.grad_fn is not None})

    def leave(mod: nn.Module, args: Any, out: Any) -> None:
        path = where.pop() if where else None
        bound = bounds.pop() if bounds else set()
        if path is not None:
            _claim(out, path, bound)

    handles = [m.register_forward_pre_hook(enter) for m in work.modules()]
    handles += [m.register_forward_hook(leave) for m in work.modules()]
    found: Found | None = None
    try:
        with torch.random.fork_rng(devices=[]):
            if rng is not None:
                torch.set_rng_state(rng)
            lines: dict[tuple[str, int], str] = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # anomaly mode's "enabled" warning
                with torch.autograd.detect_anomaly(check_nan=False), \
                        _Producer(where, lines, depth) as mode:
                    out = work(*args, **kwargs)
            found = mode.found
            outs = _floats(out)
            if (found is None and outs and grad_output is not None and _finite([grad_output])):
                target = outs[min(output_index, len(outs) - 1)]
                params = [p for p in work.parameters() if p.requires_grad]
                if target.requires_grad and params:
                    back = _Producer([], lines, depth)
                    with back:
                        torch.autograd.grad(target, params, grad_output, allow_unused=True)
                    found = back.found
    finally:
        for h in handles:
            h.remove()
    if found is None:
        # the model's forward and backward make no non-finite value from finite ones: the
        # gradient its output got already was not finite, so the loss made it
        loss = grad_output is not None and not _finite([grad_output])
        return NonFinite(step, "loss" if loss else "backward")
    frame = found.frame
    if frame is None and call_site is not None and not found.backward:
        frame = traceback.FrameSummary(call_site[0], call_site[1], "", line=None)
    code = None
    if frame is not None:
        code = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip() or None
    module = found.module
    return NonFinite(step, "backward" if found.backward else "forward", module,
                     None if module is None else _type_of(root, module),
                     found.op, None if frame is None else
                     f"{os.path.relpath(frame.filename)}:{frame.lineno}", code, found.value)


def _type_of(root: nn.Module, path: str) -> str | None:
    try:
        return type(root.get_submodule(path if path != "(model)" else "")).__name__
    except AttributeError:
        return None
