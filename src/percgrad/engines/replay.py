"""Replaying the module calls of a model that a perturbation leaves unchanged, so that a finite
difference along one tensor runs only the part of the forward pass that depends on it.

One pass at θ records every module call below the root: copies of its inputs and output, the
parameters it reads (those it holds, and any whose storage an operand of a torch function in
the call shares) and the calls made inside it. In a perturbed pass, a call that reads none of
the tensors perturbed, whose module's buffers are as recorded and whose inputs equal the
recorded ones bit for bit returns a copy of the recorded output without running. A call is not
recorded when it changes an input or a buffer in place, returns a tensor that shares storage
with an input, or takes or returns anything but plain tensors, numbers, strings, None and lists,
tuples or dicts of them, nor beyond RECORD_BYTES of copies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

RECORD_BYTES = 128 * 2**20
"""Bytes of recorded inputs and outputs at most; calls beyond them run every time."""
_SCALARS = (int, float, bool, str, type(None), torch.dtype, torch.device)
_MISSING = object()


def tensors_in(value: Any) -> list[Tensor]:
    """The tensors in ``value`` (nested lists, tuples and dicts)."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for v in value for t in tensors_in(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors_in(v)]
    return []


def plain(value: Any) -> bool:
    """Strided tensors of class Tensor, numbers, strings, None, and lists, tuples and dicts
    (string keys) of them: what a call may take and return to be recorded."""
    if isinstance(value, Tensor):
        return type(value) is Tensor and value.layout == torch.strided
    if type(value) in (list, tuple):
        return all(plain(v) for v in value)
    if type(value) is dict:
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    return isinstance(value, _SCALARS)


def copied(value: Any, memo: dict[tuple[int, int], Tensor] | None = None) -> Any:
    """``value`` with every tensor cloned (a tensor met twice unchanged, once, through
    ``memo``: by its id and its version, which an in-place change moves on)."""
    if isinstance(value, Tensor):
        if memo is None:
            return value.clone()
        key = (id(value), value._version)
        if key not in memo:
            memo[key] = value.detach().clone()
        return memo[key]
    if type(value) is list:
        return [copied(v, memo) for v in value]
    if type(value) is tuple:
        return tuple(copied(v, memo) for v in value)
    if type(value) is dict:
        return {k: copied(v, memo) for k, v in value.items()}
    return value


def same(a: Any, b: Any) -> bool:
    """Equal bit for bit: tensors of the same dtype, shape and device and values (NaN never
    equals), containers item by item, anything else of the same type and ==."""
    if isinstance(a, Tensor):
        return isinstance(b, Tensor) and a.dtype == b.dtype and a.shape == b.shape and \
            a.device == b.device and bool(torch.equal(a, b))
    if type(a) in (list, tuple):
        return type(b) is type(a) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return type(b) is dict and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def _storage(t: Tensor) -> int:
    try:
        return t.untyped_storage().data_ptr()
    except Exception:  # no storage (a functional or a nested tensor): never a parameter's
        return -1


@dataclass
class Call:
    """One recorded module call."""

    args: Any
    kwargs: Any
    output: Any
    buffers: list[int]
    """Its module's buffers' versions."""
    reads: set[int]
    """Ids of the parameters it reads."""
    inner: list[int] = field(default_factory=list)
    """Ids of the modules called inside it, every depth, in order."""


@dataclass
class _Frame:
    reads: set[int] = field(default_factory=set)
    inner: list[int] = field(default_factory=list)


class _Reads(TorchFunctionMode):
    """Adds to every open call the parameters whose storage an operand shares."""

    def __init__(self, storages: dict[int, int], frames: list[_Frame]) -> None:
        super().__init__()
        self.storages, self.frames = storages, frames

    def __torch_function__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if self.frames:
            for t in tensors_in((args, kwargs)):
                pid = self.storages.get(_storage(t))
                if pid is not None:
                    for frame in self.frames:
                        frame.reads.add(pid)
        return func(*args, **kwargs)


class Replay:
    """The recorded calls of ``model`` (see the module's docstring) over ``params``."""

    def __init__(self, model: nn.Module, params: list[Tensor], budget: int = RECORD_BYTES) -> None:
        self.model, self.budget = model, budget
        self.modules = [m for m in model.modules() if m is not model]
        self.storages = {_storage(p): id(p) for p in params}
        self.calls: dict[int, list[Call | None]] = {}
        self.bytes = 0

    @contextmanager
    def _wrapped(self, make: Callable[[nn.Module, Callable[..., Any]], Callable[..., Any]]
                 ) -> Iterator[None]:
        saved = [(m, m.__dict__.get("forward", _MISSING)) for m in self.modules]
        try:
            for m in self.modules:
                m.forward = make(m, m.forward)
            yield
        finally:
            for m, old in saved:
                if old is _MISSING:
                    m.__dict__.pop("forward", None)
                else:
                    m.forward = old

    def record(self, run: Callable[[], Tensor]) -> Tensor:
        """``run()`` (a forward pass at θ) twice: under a torch function mode that sees the
        parameters each module's calls read, then plainly, every module call recorded (a mode
        can change the kernels a module picks, and so the last bits of what it returns)."""
        frames: list[_Frame] = []
        reads: dict[int, set[int]] = defaultdict(set)

        def watch(m: nn.Module, forward: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                frames.append(_Frame())
                try:
                    return forward(*args, **kwargs)
                finally:
                    reads[id(m)] |= frames.pop().reads
            return wrapper

        with torch.no_grad(), self._wrapped(watch), _Reads(self.storages, frames):
            run()
        memo: dict[tuple[int, int], Tensor] = {}
        alive: list[Any] = []  # the originals, so that no id in ``memo`` is reused meanwhile

        def make(m: nn.Module, forward: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                slots = self.calls.setdefault(id(m), [])
                slots.append(None)
                index = len(slots) - 1
                ins = tensors_in((args, kwargs))
                versions = [t._version for t in ins] + [b._version for b in m.buffers()]
                frame = _Frame({id(p) for p in m.parameters()} | reads[id(m)])
                frames.append(frame)
                try:
                    out = forward(*args, **kwargs)
                finally:
                    frames.pop()
                if frames:
                    frames[-1].inner += [id(m), *frame.inner]
                    frames[-1].reads |= frame.reads
                buffers = [b._version for b in m.buffers()]
                if [t._version for t in ins] + buffers != versions or \
                        not (plain(args) and plain(kwargs) and plain(out)):
                    return out
                storages = {_storage(t) for t in ins}
                outs = tensors_in(out)
                if any(_storage(t) in storages for t in outs):
                    return out
                size = sum(t.numel() * t.element_size() for t in ins + outs
                           if (id(t), t._version) not in memo)
                if self.bytes + size > self.budget:
                    return out
                self.bytes += size
                alive.append((args, kwargs, out))
                slots[index] = Call(copied(args, memo), copied(kwargs, memo), copied(out, memo),
                                    buffers, frame.reads, frame.inner)
                return out
            return wrapper

        with torch.no_grad(), self._wrapped(make):
            return run()

    def run(self, touched: set[int], run: Callable[[], Tensor]) -> tuple[Tensor, int]:
        """``run()`` with the parameters of ids ``touched`` perturbed, every call that can
        be replayed replayed; and how many were."""
        counters: dict[int, int] = defaultdict(int)
        hits = [0]

        def make(m: nn.Module, forward: Callable[..., Any]) -> Callable[..., Any]:
            calls = self.calls.get(id(m), [])

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                k = counters[id(m)]
                counters[id(m)] += 1
                call = calls[k] if k < len(calls) else None
                if call is None or not call.reads.isdisjoint(touched) or \
                        [b._version for b in m.buffers()] != call.buffers or \
                        not same(args, call.args) or not same(kwargs, call.kwargs):
                    return forward(*args, **kwargs)
                for inner in call.inner:
                    counters[inner] += 1
                hits[0] += 1
                return copied(call.output)
            return wrapper

        with torch.no_grad(), self._wrapped(make):
            value = run()
        return value, hits[0]
