"""The loss E of a user's model: which output it is taken of, the loss kinds (mse, bce,
cross-entropy, sum), and seeded targets when none were given."""

from __future__ import annotations

import dataclasses
import math
from contextvars import ContextVar
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from percgrad.engines.hooks import float_tensors
from percgrad.errors import PercgradError
from percgrad.reports.user import Note
from percgrad.spec.seeds import stream_seed

LOSSES = ("auto", "mse", "bce", "cross-entropy", "sum")


OUTPUT_KEY: ContextVar[str | None] = ContextVar("percgrad_output_key", default=None)
"""--output: the output the loss is taken of (a dict key, an attribute, a tuple index)."""


def _named_outputs(out: Any) -> list[tuple[str, Any]]:
    """The parts of a model's output by the name --output takes: dict keys, tuple indices,
    the fields of an output object (a dataclass or a namedtuple)."""
    if isinstance(out, dict):
        return [(str(k), v) for k, v in out.items()]
    if hasattr(out, "_fields"):
        return [(str(f), getattr(out, f)) for f in out._fields]
    if isinstance(out, list | tuple):
        return [(str(i), v) for i, v in enumerate(out)]
    if dataclasses.is_dataclass(out) and not isinstance(out, type):
        return [(f.name, getattr(out, f.name)) for f in dataclasses.fields(out)]
    return []


def _select(out: Any, key: str) -> Any:
    named = _named_outputs(out)
    for name, value in named:
        if name == key:
            return value
    if isinstance(out, list | tuple) and key.lstrip("-").isdigit() and \
            -len(out) <= int(key) < len(out):
        return out[int(key)]
    if not isinstance(out, dict | list | tuple) and hasattr(out, key):
        return getattr(out, key)
    names = [n for n, v in named if float_tensors(v)]
    raise PercgradError(f"the model's output ({type(out).__name__}) has no {key!r}; its "
                        f"outputs are: {', '.join(names) or 'none by name'}", "--output")


def main_output(out: Any, notes: list[Note] | None = None, key: str | None = None) -> Tensor:
    """The tensor the loss is taken of: ``key`` (--output) of the output, else the output,
    ``logits`` of a dict or an output object, else the first floating-point tensor."""
    key = OUTPUT_KEY.get() if key is None else key
    if key is not None:
        chosen = _select(out, key)
        if not isinstance(chosen, Tensor):
            raise PercgradError(f"the model's output {key!r} is a {type(chosen).__name__}, not "
                                "a tensor", "--output")
        return chosen
    if isinstance(out, Tensor):
        return out
    named = [(n, v) for n, v in _named_outputs(out) if float_tensors(v)]
    logits = next((v for n, v in named if n == "logits" and isinstance(v, Tensor)), None)
    if logits is None and isinstance(out, dict) and isinstance(out.get("logits"), Tensor):
        logits = out["logits"]
    found = float_tensors(out)
    if logits is None and not found:
        raise PercgradError(f"the model returned a {type(out).__name__} with no floating-point "
                            "tensor to take a loss of", "TARGET")
    if logits is not None and len(named) <= 1:
        return logits
    taken = "logits" if logits is not None else next(
        (n for n, v in named if float_tensors(v) and float_tensors(v)[0] is found[0]), "")
    if notes is not None and not any(n.kind == "first-output" for n in notes):
        others = [n for n, _ in named if n != taken]
        text = ""
        if taken:
            text = (f"the model returns several outputs: the loss is taken of {taken!r}"
                    + (f"; the others: {', '.join(map(repr, others))}" if others else "")
                    + " (choose one with --output KEY)")
        notes.append(Note("first-output", text=text))
    return logits if logits is not None else found[0]


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


CLASS_DIM: ContextVar[int | None] = ContextVar("percgrad_class_dim", default=None)
"""--class-dim: the output's axis of classes for cross-entropy (None: decided by ``class_axis``)."""
TOKENS: ContextVar[bool] = ContextVar("percgrad_tokens", default=False)
"""Whether the model's inputs are token ids (an integer tensor): a language model's logits."""


def class_axis(out: Tensor, t: Tensor | None) -> int:
    """The axis of classes of cross-entropy: --class-dim when given; else the last axis when
    targets have the output's shape without its last dimension ((N, T) for (N, T, V) logits),
    or, with random targets, when the inputs are token ids and the output is (N, T, V); else
    axis 1 (PyTorch's convention: (N, C, …))."""
    given = CLASS_DIM.get()
    if given is not None:
        if not -out.dim() <= given < out.dim() or out.dim() < 2:
            raise PercgradError(f"must be an axis of the output (shape {tuple(out.shape)}), from "
                                f"{-out.dim()} to {out.dim() - 1}, got {given}", "--class-dim")
        return given % out.dim()
    if out.dim() >= 3:
        if t is not None and tuple(t.shape) == tuple(out.shape[:-1]) and \
                tuple(t.shape) != (out.shape[0], *out.shape[2:]):
            return out.dim() - 1
        if t is None and TOKENS.get() and out.dim() == 3:
            return 2
    return 1


def random_targets(kind: str, out: Tensor, seed: int) -> Tensor | None:
    """Seeded targets for a loss that needs them when none were given."""
    gen = torch.Generator(device="cpu").manual_seed(stream_seed(seed, 77))
    if kind == "mse":
        return torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out)
    if kind == "bce":
        return torch.randint(0, 2, out.shape, generator=gen).to(out)
    if kind == "cross-entropy":
        if out.dim() < 2:
            raise PercgradError("cross-entropy needs outputs of shape (batch, classes, …), got "
                                f"{tuple(out.shape)}", "--loss")
        axis = class_axis(out, None)
        shape = tuple(n for k, n in enumerate(out.shape) if k != axis)
        return torch.randint(0, out.shape[axis], shape, generator=gen).to(out.device)
    return None


def loss_value(kind: str, out: Tensor, t: Tensor | None) -> Tensor:
    """E of the model's output: mse, bce (with logits), cross-entropy (class indices or
    probabilities), or sum (E = Σ output)."""
    if kind == "sum":
        return out.sum()
    assert t is not None
    if kind == "cross-entropy":
        axis = class_axis(out, t)
        if t.shape == out.shape and t.is_floating_point():
            return F.cross_entropy(out.movedim(axis, 1), t.to(out.dtype).movedim(axis, 1))
        shown = tuple(out.shape)
        out = out.movedim(axis, 1)
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
                                f"{expect}), got shape {tuple(t.shape)}: the classes are taken "
                                f"on axis {axis} of the output {shown} (--class-dim picks "
                                "another)", "--targets")
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

