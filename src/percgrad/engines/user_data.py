"""Inputs, targets and weights for ``inspect`` and ``check``: shapes for random seeded tensors,
files that are read as data only, and a model's inputs and targets from one source each.
Nothing is unpickled: ``.npy``/``.npz`` load with ``allow_pickle=False``, ``.pt`` with
``torch.load(weights_only=True)``; a file that needs pickle is refused, with the reason."""

from __future__ import annotations

import contextlib
import csv
import inspect
import math
import pickle
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from percgrad.errors import PercgradError
from percgrad.spec.parse import is_number, shown, strict_int
from percgrad.spec.seeds import stream_seed

FORMATS = (".npy", ".npz", ".pt", ".pth", ".csv")
INPUT_KEYS = ("x", "input", "inputs", "data", "features")
TARGET_KEYS = ("y", "t", "target", "targets", "label", "labels")
PICKLE_REASON = ("percgrad never unpickles a file, because unpickling can run arbitrary code; "
                 "save plain arrays or tensors instead")


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


def _refuse_pickle(path: Path, option: str, why: str) -> PercgradError:
    return PercgradError(f"{str(path)!r} needs pickle to load ({why}): {PICKLE_REASON}", option)


def _check_file(path: Path, option: str) -> None:
    if not path.is_file():
        raise PercgradError(f"no such file: {str(path)!r}", option)
    if path.suffix.lower() not in FORMATS:
        raise PercgradError(f"{str(path)!r}: the name must end in .npy, .npz, .pt or .csv", option)


NUMPY_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, KeyError,
                TypeError, NotImplementedError)
"""What np.load raises on a file that is not what its name says (truncated, empty, corrupt)."""


def _why(exc: BaseException) -> str:
    """The first line of ``exc``'s message (its type when it has none): an empty file says
    'empty', not 'EOFError'."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, EOFError):
        return f"the file is empty or cut short{f' ({first})' if first else ''}"
    return first or type(exc).__name__


def _npy(path: Path, option: str) -> np.ndarray:
    try:
        value = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise _refuse_pickle(path, option, "it holds Python objects, not numbers") from None
        raise PercgradError(f"cannot read {str(path)!r}: {_why(exc)}", option) from None
    except NUMPY_ERRORS as exc:
        raise PercgradError(f"cannot read {str(path)!r}: {_why(exc)}", option) from None
    if not isinstance(value, np.ndarray):  # np.load opened an archive: an .npz named .npy
        with contextlib.suppress(Exception):
            value.close()
        raise PercgradError(f"{str(path)!r} is an .npz archive, not an .npy array (name it "
                            ".npz)", option)
    return value


def _npz(path: Path, option: str) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # an .npy named .npz
            raise PercgradError(f"{str(path)!r} is an .npy array, not an .npz archive (name it "
                                ".npy)", option)
        with loaded as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise _refuse_pickle(path, option, "an array in it holds Python objects") from None
        raise PercgradError(f"cannot read {str(path)!r}: {_why(exc)}", option) from None
    except NUMPY_ERRORS as exc:
        raise PercgradError(f"cannot read {str(path)!r}: {_why(exc)}", option) from None


def load_torch(path: Path, option: str) -> Any:
    """``torch.load(path, weights_only=True)``: tensors, dicts, lists and numbers only."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).strip().splitlines()]
        detail = next((line for line in lines if "Unsupported" in line or "GLOBAL" in line),
                      "it holds Python objects beyond tensors")
        if "global" not in detail.lower():  # garbage bytes, not a pickle of objects
            raise PercgradError(f"cannot read {str(path)!r}: not a file torch.save wrote (the "
                                f"loader stopped at: {detail.rstrip('.')})", option) from None
        raise _refuse_pickle(path, option, detail.rstrip(".")) from None
    except (RuntimeError, OSError, EOFError, zipfile.BadZipFile, ValueError, TypeError,
            KeyError, AttributeError, NotImplementedError, IndexError, OverflowError) as exc:
        raise PercgradError(f"cannot read {str(path)!r}: {_why(exc)}", option) from None


def _csv(path: Path, option: str) -> tuple[list[str], np.ndarray]:
    """A CSV file with a header row and numbers below it."""
    reader = None
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: a BOM is not a name
            reader = csv.reader(f)
            rows = [r for r in reader if r and any(c.strip() for c in r)]
    except csv.Error as exc:  # a field over csv.field_size_limit(), a NUL byte …
        line = f"line {reader.line_num}: " if reader is not None else ""
        raise PercgradError(f"cannot read {str(path)!r}: {line}{exc}", option) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PercgradError(f"cannot read {str(path)!r}: {exc}", option) from None
    if len(rows) < 2:
        raise PercgradError(f"{str(path)!r} needs a header row and at least one row of numbers",
                            option)
    header = [h.strip() for h in rows[0]]
    if all(is_number(h) for h in header):
        raise PercgradError(f"{str(path)!r} has no header row (its first row is numbers); add "
                            "one with a name per column", option)
    values = np.empty((len(rows) - 1, len(header)), dtype=np.float64)
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise PercgradError(f"{str(path)!r} line {i} has {len(row)} value(s), the header "
                                f"{len(header)}", option)
        for j, cell in enumerate(row):
            if not is_number(cell):  # ASCII digits only: not '٣', not '1_000'
                raise PercgradError(f"{str(path)!r} line {i}, column {header[j]!r}: {shown(cell)} "
                                    "is not a number", option)
            values[i - 2, j] = float(cell)
    return header, values


def _pick(items: dict[str, Any], keys: tuple[str, ...]) -> Any | None:
    lowered = {k.lower(): v for k, v in items.items()}
    return next((lowered[k] for k in keys if k in lowered), None)


def _tensor(value: Any, path: Path, option: str) -> Tensor:
    if isinstance(value, Tensor):
        return _plain_tensor(value.detach(), path, option)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise PercgradError(f"{str(path)!r} holds {value.dtype} values, not numbers", option)
        if value.dtype.kind == "f" and value.dtype.itemsize > 8:
            raise PercgradError(f"{str(path)!r} holds {value.dtype.name} values; torch reads at "
                                "most float64 (save them with .astype('float64'))", option)
        if value.size == 0:
            raise PercgradError(f"{str(path)!r} holds an empty array (shape "
                                f"{'×'.join(map(str, value.shape)) or '()'})", option)
        if not value.dtype.isnative:  # big-endian on a little-endian machine: converted
            value = value.astype(value.dtype.newbyteorder("="))
        return torch.from_numpy(np.ascontiguousarray(value))
    raise PercgradError(f"{str(path)!r} holds a {type(value).__name__}, not an array or a "
                        "tensor", option)


def _plain_tensor(t: Tensor, path: Path, option: str) -> Tensor:
    """``t`` if it is a dense tensor of real numbers with data, else a PercgradError saying why."""
    name = str(path)
    if t.device.type == "meta":
        raise PercgradError(f"{name!r} holds a tensor without data (on the meta device)", option)
    if t.is_quantized:
        raise PercgradError(f"{name!r} holds a quantized tensor ({t.dtype}); save "
                            "tensor.dequantize() instead", option)
    if getattr(t, "is_nested", False) or t.layout != torch.strided:
        raise PercgradError(f"{name!r} holds a {str(t.layout).replace('torch.', '')} tensor; save "
                            "a dense one (tensor.to_dense())", option)
    if t.is_complex():
        raise PercgradError(f"{name!r} holds {str(t.dtype).replace('torch.', '')} values, not "
                            "real numbers", option)
    if t.numel() == 0:
        raise PercgradError(f"{name!r} holds an empty tensor (shape "
                            f"{'×'.join(map(str, t.shape)) or '()'})", option)
    return t


def read_data(path: Path, target_column: str | None = None,
              option: str = "--data") -> tuple[Tensor, Tensor | None]:
    """Inputs (and targets, where the file has them) from a .npy, .npz, .pt or .csv file:
    an .npz or a .pt dict by key (x/inputs, y/targets), a .pt tuple as (inputs, targets), a
    CSV's ``target_column`` as targets and its other columns as inputs."""
    _check_file(path, option)
    suffix = path.suffix.lower()
    if target_column is not None and suffix != ".csv":
        raise PercgradError("applies to .csv data only (an .npz or .pt file names its targets "
                            "by key: y or targets)", "--target-column")
    if suffix == ".npy":
        return _tensor(_npy(path, option), path, option), None
    if suffix == ".csv":
        header, values = _csv(path, option)
        if target_column is None:
            return torch.from_numpy(values), None
        if target_column not in header:
            raise PercgradError(f"{target_column!r} is not a column of {str(path)!r}; its columns "
                                f"are {', '.join(header)}", "--target-column")
        j = header.index(target_column)
        if len(header) == 1:
            raise PercgradError(f"{str(path)!r} has no column left for the inputs",
                                "--target-column")
        rest = np.ascontiguousarray(np.delete(values, j, axis=1))
        return torch.from_numpy(rest), torch.from_numpy(values[:, j].copy())
    if suffix == ".npz":
        items: Any = _npz(path, option)
    else:
        items = load_torch(path, option)
    if isinstance(items, Tensor | np.ndarray):
        return _tensor(items, path, option), None
    if isinstance(items, list | tuple) and items:
        x = _tensor(items[0], path, option)
        y = _tensor(items[1], path, option) if len(items) > 1 else None
        return x, y
    if isinstance(items, dict) and items:
        x_val = _pick(items, INPUT_KEYS)
        y_val = _pick(items, TARGET_KEYS)
        if x_val is None:
            if len(items) != 1:
                raise PercgradError(f"{str(path)!r} has keys {', '.join(map(str, items))}: name "
                                    f"the inputs {' or '.join(INPUT_KEYS[:2])}", option)
            x_val = next(iter(items.values()))
        return _tensor(x_val, path, option), None if y_val is None else _tensor(y_val, path, option)
    raise PercgradError(f"{str(path)!r} holds no array", option)


def read_targets(path: Path, option: str = "--targets") -> Tensor:
    """Targets from a file: a .npy array, an .npz/.pt with one array (or key y/targets), a .pt
    tensor, or a CSV (one column, or every column)."""
    _check_file(path, option)
    if path.suffix.lower() == ".csv":
        _, values = _csv(path, option)
        return torch.from_numpy(values[:, 0].copy() if values.shape[1] == 1 else values)
    x, y = read_data(path, None, option)
    return x if y is None else y


def read_state_dict(path: Path, option: str = "--state-dict") -> dict[str, Tensor]:
    """A state dict saved with torch.save, loaded with weights_only=True (under a
    ``state_dict`` or ``model`` key too)."""
    _check_file(path, option)
    if path.suffix.lower() not in (".pt", ".pth"):
        raise PercgradError(f"{str(path)!r}: a state dict is a .pt or .pth file", option)
    value = load_torch(path, option)
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(value, dict) and isinstance(value.get(key), dict):
            value = value[key]
    if not isinstance(value, dict) or not all(isinstance(v, Tensor) for v in value.values()):
        raise PercgradError(f"{str(path)!r} is not a state dict (a dict of tensors)", option)
    return value


def load_state(model: Any, state: dict[str, Tensor], option: str = "--state-dict") -> None:
    """``model.load_state_dict(state)`` strictly, its complaint as a PercgradError."""
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, ValueError, TypeError, NotImplementedError) as exc:
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        detail = " ".join(lines[1:4]) if len(lines) > 1 else (lines[0] if lines else "")
        raise PercgradError(f"does not fit the model: {detail}", option) from None


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating-point parameter (float32 when it has none)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def model_inputs(shape: tuple[int, ...], model: nn.Module, seed: int, salt: int = 11,
                 dtype: str = "float") -> Tensor:
    """A seeded N(0, 1) input of ``shape`` in the model's floating-point dtype; with ``dtype``
    long, token ids in [0, n), n the num_embeddings of the model's first nn.Embedding."""
    if dtype == "long":
        emb = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
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
    try:
        return list(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return []


def data_inputs(path: Path, model: nn.Module, target_column: str | None) -> tuple[list[Any], Tensor | None]:
    """A data file's inputs: an .npz (or .pt dict) with several arrays besides the targets, by
    the forward's parameter names when they all match, else in order; else one input."""
    suffix = path.suffix.lower()
    if suffix in (".npz", ".pt", ".pth") and target_column is None:
        _check_file(path, "--data")
        items: Any = _npz(path, "--data") if suffix == ".npz" else load_torch(path, "--data")
        if isinstance(items, dict) and len(items) > 1:
            rest = {str(k): v for k, v in items.items() if str(k).lower() not in TARGET_KEYS}
            y = _pick(items, TARGET_KEYS)
            if len(rest) > 1:
                names = forward_names(model)
                t = None if y is None else _tensor(y, path, "--data")
                if all(k in names for k in rest):
                    return [Keywords({k: cast_data(_tensor(v, path, "--data"), model)
                                      for k, v in rest.items()})], t
                return [cast_data(_tensor(v, path, "--data"), model) for v in rest.values()], t
    x, y = read_data(path, target_column)
    return [cast_data(x, model)], y


def cast_data(x: Tensor, model: nn.Module) -> Tensor:
    """Floating-point data in the model's dtype; whole numbers (token ids) as int64."""
    return x.to(model_dtype(model)) if x.is_floating_point() else x.long()


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
