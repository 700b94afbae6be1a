"""Inputs and targets for ``inspect`` and ``check``: shapes for random seeded tensors, a model's
positional and keyword inputs, and its inputs and targets from one source each (the files are
read by engines/data_files.py)."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import torch
from torch import Tensor, nn

from percgrad.engines.data_files import (
    TARGET_KEYS,
    as_tensor,
    check_file,
    load_torch,
    read_data,
    read_npz,
    read_targets,
)
from percgrad.errors import PercgradError
from percgrad.spec.parse import shown, strict_int
from percgrad.spec.seeds import stream_seed


def parse_shape(text: str, option: str, separator: str = ",") -> tuple[int, ...]:
    """``32,784`` (or ``3x4`` with ``separator`` x) as positive whole numbers; ``()`` is a scalar."""
    body = text.strip()
    if body in ("()", "scalar"):
        return ()
    parts = [p.strip() for p in body.split(separator)]
    if not body or any(not p for p in parts):
        raise PercgradError(f"expected sizes separated by {separator!r}, e.g. "
                            f"{'32,784' if separator == ',' else '3x4'}, got {shown(text, 40)}", option)
    sizes = []
    for p in parts:
        if not (p.isascii() and p.isdigit()) or strict_int(p, option) < 1:
            raise PercgradError(f"{shown(p)} in {shown(text, 40)} is not a whole number of at "
                                "least 1", option)
        sizes.append(int(p))
    if len(sizes) > 64:
        raise PercgradError(f"{len(sizes)} sizes; a tensor has at most 64 dimensions", option)
    if math.prod(sizes) > 2**31:
        raise PercgradError(f"{shown(text, 40)} has {math.prod(sizes):,} entries: too many",
                            option)
    return tuple(sizes)


def parse_shapes(text: str, option: str = "--shapes") -> list[tuple[int, ...]]:
    """``3x4,4``: one shape per input, sizes joined by x, inputs separated by commas."""
    if not text.strip():
        raise PercgradError("expected one shape per input, e.g. 3x4,4", option)
    return [parse_shape(part, option, "x") for part in text.split(",")]


def random_tensor(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu", salt: int = 0) -> Tensor:
    """N(0, 1) entries from a CPU generator seeded with ``seed`` (and ``salt``), then moved."""
    gen = torch.Generator(device="cpu").manual_seed(stream_seed(seed, salt))
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating-point parameter (float32 when it has none)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


EMBEDDINGS: tuple[type[nn.Module], ...] = (nn.Embedding, nn.EmbeddingBag)
"""Modules that look up integer token ids."""


def model_inputs(shape: tuple[int, ...], model: nn.Module, seed: int, salt: int = 11,
                 dtype: str = "float") -> Tensor:
    """A seeded N(0, 1) input of ``shape`` in the model's floating-point dtype; with ``dtype``
    long, token ids in [0, n), n the num_embeddings of the model's first nn.Embedding (or
    nn.EmbeddingBag)."""
    if dtype == "long":
        emb = next((m for m in model.modules()
                    if isinstance(m, nn.Embedding | nn.EmbeddingBag)), None)
        if emb is None:
            raise PercgradError("integer inputs (:long) are drawn in [0, num_embeddings) of the "
                                "model's first nn.Embedding, and the model has none; give the "
                                "inputs with --data FILE", "--input-shape")
        gen = torch.Generator(device="cpu").manual_seed(stream_seed(seed, salt))
        return torch.randint(0, emb.num_embeddings, shape, generator=gen)
    return random_tensor(shape, seed, model_dtype(model), "cpu", salt=salt)


class Keywords(dict[str, Any]):
    """The keyword inputs of a model's forward: the last item of a list of inputs."""


def split_inputs(args: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword inputs of a list that may end in ``Keywords``."""
    if args and isinstance(args[-1], Keywords):
        return list(args[:-1]), dict(args[-1])
    return list(args), {}


def map_inputs(args: Sequence[Any], fn: Any) -> list[Any]:
    """``fn`` applied to every input, keyword inputs included."""
    pos, kw = split_inputs(args)
    out = [fn(a) for a in pos]
    return [*out, Keywords({k: fn(v) for k, v in kw.items()})] if kw else out


def input_tensors(args: Sequence[Any]) -> list[Tensor]:
    """Every tensor among the inputs, keyword inputs included."""
    pos, kw = split_inputs(args)
    return [a for a in [*pos, *kw.values()] if isinstance(a, Tensor)]


@dataclass(frozen=True)
class InputSpec:
    """One --input-shape: ``[NAME=]SHAPE[:long]``."""

    name: str | None
    shape: tuple[int, ...]
    dtype: str = "float"


DTYPES = {"long": "long", "int64": "long", "int": "long", "float": "float"}


def _one_spec(value: Any, option: str) -> InputSpec:
    if not isinstance(value, str):
        return InputSpec(None, tuple(int(v) for v in value))
    body, name, dtype = value.strip(), None, "float"
    if "=" in body:
        name, body = (p.strip() for p in body.split("=", 1))
        if not name.isidentifier():
            raise PercgradError(f"{shown(name)} is not a parameter name (NAME=SHAPE, e.g. "
                                "mask=8,16)", option)
    if ":" in body:
        body, suffix = (p.strip() for p in body.rsplit(":", 1))
        if suffix.lower() not in DTYPES:
            raise PercgradError(f"{shown(suffix)} is not a dtype: give :long for integer token "
                                "ids (or :float)", option)
        dtype = DTYPES[suffix.lower()]
    return InputSpec(name, parse_shape(body, option), dtype)


def input_specs(input_shape: Any, option: str = "--input-shape") -> list[InputSpec]:
    """``--input-shape`` given once or repeated: positional inputs in order, then ``NAME=SHAPE``
    keyword ones; a shape of ``(8, 16)`` is one input."""
    if isinstance(input_shape, str) or (isinstance(input_shape, Sequence) and all(
            isinstance(v, int) for v in input_shape)):
        items: list[Any] = [input_shape]
    else:
        items = list(input_shape)
    specs = [_one_spec(v, option) for v in items]
    if not specs:
        raise PercgradError("give at least one shape, e.g. 32,784", option)
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        if spec.name is None and any(s.name is not None for s in specs[:i]):
            raise PercgradError("positional shapes come before NAME=SHAPE ones", option)
        if spec.name is not None:
            if spec.name in seen:
                raise PercgradError(f"{spec.name!r} is given twice", option)
            seen.add(spec.name)
        if any(v < 1 for v in spec.shape):
            raise PercgradError(f"expected positive sizes, got {input_shape!r}", option)
    return specs


def spec_inputs(specs: Sequence[InputSpec], model: nn.Module, seed: int) -> list[Any]:
    """Seeded random inputs, one per spec (the first with the salt a single input always had)."""
    args: list[Any] = []
    kw = Keywords()
    for i, spec in enumerate(specs):
        t = model_inputs(spec.shape, model, seed, 11 + 1000 * i, spec.dtype)
        if spec.name is None:
            args.append(t)
        else:
            kw[spec.name] = t
    return [*args, kw] if kw else args


def forward_names(model: nn.Module) -> list[str]:
    """The names of the parameters of the model's forward (none when it has no signature)."""
    sig = _signature(model)
    return [] if sig is None else list(sig.parameters)


def _signature(model: nn.Module) -> inspect.Signature | None:
    """The signature of the model's forward (None when it has none)."""
    try:
        return inspect.signature(model.forward)
    except (TypeError, ValueError):
        return None


def data_inputs(path: Path, model: nn.Module, target_column: str | None) -> tuple[list[Any], Tensor | None]:
    """A data file's inputs and targets: an .npz or a .pt dict by ``file_arrays``; anything else
    as one input (and its targets, see data_files.read_data)."""
    suffix = path.suffix.lower()
    if suffix in (".npz", ".pt", ".pth") and target_column is None:
        check_file(path, "--data")
        items: Any = read_npz(path, "--data") if suffix == ".npz" else load_torch(path, "--data")
        if isinstance(items, dict) and items:
            arrays = {str(k): as_tensor(v, path, "--data") for k, v in items.items()}
            return file_arrays(arrays, path, model)
    x, y = read_data(path, target_column)
    return [cast_data(x, model)], y


SAVEZ_NAME = re.compile(r"arr_(\d+)")
"""The names np.savez gives arrays passed without one, in the order they were passed."""


def file_arrays(arrays: dict[str, Tensor], path: Path,
                model: nn.Module) -> tuple[list[Any], Tensor | None]:
    """The arrays of an .npz (or a .pt dict) as the forward's inputs: by its parameter names when
    an array has one (the others must too), else in order (arr_0, arr_1, … by number); an
    array named y, targets, labels … that is no parameter's name is the targets. A file whose
    arrays do not fit the forward (one missing, one too many) is refused, naming both."""
    sig = _signature(model)
    params = [] if sig is None else [p for p in sig.parameters.values()
                                     if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    names = [p.name for p in params]
    target_like = [k for k in arrays if k.lower() in TARGET_KEYS and k not in names]
    if len(target_like) > 1:
        _refuse(arrays, sig, model, path, f"{', '.join(target_like)} could each be the targets; "
                "keep one")
    rest = {k: v for k, v in arrays.items() if k not in target_like} or arrays
    targets = arrays[target_like[0]] if target_like and rest is not arrays else None
    matched = [k for k in rest if k in names]
    var_kw = sig is not None and any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    if matched and len(matched) < len(rest) and not var_kw:
        strays = ", ".join(k for k in rest if k not in names)
        _refuse(arrays, sig, model, path, f"{strays} is no parameter's name (the arrays go to "
                "the parameters of their names when one is named after one; name every input "
                "array after its parameter, or none of them to give them in order)")
    pos: list[Tensor] = []
    kw: dict[str, Tensor] = {}
    if matched:
        gap = False
        for p in params:  # positional while the forward's parameters come in order, then by name
            gap = gap or p.name not in rest or p.kind == p.KEYWORD_ONLY
            if p.name in rest and gap:
                kw[p.name] = rest[p.name]
            elif p.name in rest:
                pos.append(rest[p.name])
        kw.update({k: v for k, v in rest.items() if k not in names})
    else:
        numbers = [SAVEZ_NAME.fullmatch(k) for k in rest]
        keys = (sorted(rest, key=lambda k: int(k[4:])) if all(numbers) else list(rest))
        pos = [rest[k] for k in keys]
    if sig is not None:
        try:
            sig.bind(*pos, **kw)
        except TypeError as exc:
            _refuse(arrays, sig, model, path, str(exc))
    args: list[Any] = [cast_data(v, model) for v in pos]
    return ([*args, Keywords({k: cast_data(v, model) for k, v in kw.items()})] if kw else args,
            targets)


def _refuse(arrays: dict[str, Tensor], sig: inspect.Signature | None, model: nn.Module,
            path: Path, why: str) -> NoReturn:
    """Refuse a data file whose arrays do not fit the forward, naming both."""
    params = "…" if sig is None else ", ".join(
        str(p.replace(annotation=p.empty)) for p in sig.parameters.values())
    listed = ", ".join(f"{k} ({'×'.join(map(str, v.shape)) or 'scalar'})" for k, v in arrays.items())
    raise PercgradError(
        f"the arrays of {path.name} ({listed}) do not fit {type(model).__name__}.forward({params}): "
        f"{why}", "--data")


def cast_data(x: Tensor, model: nn.Module) -> Tensor:
    """Floating-point data in the model's dtype; booleans (masks) as they are; other whole
    numbers (token ids) as int64."""
    if x.is_floating_point():
        return x.to(model_dtype(model))
    return x if x.dtype == torch.bool else x.long()


def check_sources(inputs: Any, input_shape: Any, data: Any, targets: Any, targets_file: Any) -> None:
    """Exactly one source of inputs (given, --input-shape or --data), at most one of targets."""
    given = [name for name, v in (("inputs", inputs), ("--input-shape", input_shape),
                                  ("--data", data)) if v is not None]
    if not given:
        raise PercgradError("give --input-shape (random inputs, e.g. 32,784) or --data FILE",
                            "--input-shape")
    if len(given) > 1:
        raise PercgradError(f"give one of {' and '.join(given)}, not both", given[1])
    if targets is not None and targets_file is not None:
        raise PercgradError("give targets or --targets, not both", "--targets")


@dataclass
class ModelData:
    """A model's inputs and targets, and where they come from."""

    args: list[Any]
    targets: Tensor | None
    source: str
    """N(0, 1), seed S; from FILE; or given."""
    targets_from_file: bool


def model_data(model: nn.Module, inputs: Any, targets: Any, input_shape: Any,
               data: str | Path | None, target_column: str | None,
               targets_file: str | Path | None, seed: int,
               input_kwargs: dict[str, Any] | None = None) -> ModelData:
    """The model's inputs and targets from one source each (see ``check_sources``): random ones
    of a shape, a data file (with its targets, or a CSV's ``target_column``), or given; targets
    from a file or given, floating-point ones in the inputs' dtype."""
    source = "given"
    file_targets: Tensor | None = None
    if input_shape is not None:
        args: list[Any] = spec_inputs(input_specs(input_shape), model, seed)
        source = f"N(0, 1), seed {seed}"
    elif data is not None:
        args, file_targets = data_inputs(Path(data), model, target_column)
        source = f"from {Path(data).name}"
    else:
        args = list(inputs) if isinstance(inputs, list | tuple) else [inputs]
        if input_kwargs:
            args.append(Keywords(input_kwargs))
    if target_column is not None and data is None:
        raise PercgradError("needs --data FILE (a .csv)", "--target-column")
    t: Tensor | None
    if targets_file is not None:
        if file_targets is not None:
            raise PercgradError(f"{Path(str(data)).name} has targets already", "--targets")
        t = read_targets(Path(targets_file))
    elif targets is not None:
        t = torch.as_tensor(targets)
    else:
        t = file_targets
    if t is not None and t.is_floating_point():
        dtype = next((a.dtype for a in input_tensors(args) if a.is_floating_point()),
                     torch.float32)
        t = t.to(dtype)
    return ModelData(args, t, source, targets_file is not None or file_targets is not None)
