"""Data files read defensively, as data only: ``.npy``/``.npz`` with ``allow_pickle=False``,
``.pt`` with ``torch.load(weights_only=True)``, CSV with a header; a file that needs pickle, or
that is empty, truncated, of an unsupported dtype or not what its name says, is refused with the
file and the reason (a PercgradError naming the option)."""

from __future__ import annotations

import contextlib
import csv
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from percgrad.errors import PercgradError
from percgrad.spec.parse import is_number, shown

FORMATS = (".npy", ".npz", ".pt", ".pth", ".csv")
INPUT_KEYS = ("x", "input", "inputs", "data", "features")
TARGET_KEYS = ("y", "t", "target", "targets", "label", "labels")
PICKLE_REASON = ("percgrad never unpickles a file, because unpickling can run arbitrary code; "
                 "save plain arrays or tensors instead")


def _refuse_pickle(path: Path, option: str, why: str) -> PercgradError:
    return PercgradError(f"{str(path)!r} needs pickle to load ({why}): {PICKLE_REASON}", option)


def check_file(path: Path, option: str) -> None:
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


def _numpy_failure(exc: BaseException, path: Path, option: str, objects: str) -> PercgradError:
    """What np.load's failure means: a file that needs pickle (``objects`` says what holds
    Python objects), or one that cannot be read, and why."""
    if isinstance(exc, ValueError) and "pickle" in str(exc).lower():
        return _refuse_pickle(path, option, objects)
    return PercgradError(f"cannot read {str(path)!r}: {_why(exc)}", option)


def _npy(path: Path, option: str) -> np.ndarray:
    try:
        value = np.load(path, allow_pickle=False)
    except NUMPY_ERRORS as exc:
        raise _numpy_failure(exc, path, option, "it holds Python objects, not numbers") from None
    if not isinstance(value, np.ndarray):  # np.load opened an archive: an .npz named .npy
        with contextlib.suppress(Exception):
            value.close()
        raise PercgradError(f"{str(path)!r} is an .npz archive, not an .npy array (name it "
                            ".npz)", option)
    return value


def read_npz(path: Path, option: str) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # an .npy named .npz
            raise PercgradError(f"{str(path)!r} is an .npy array, not an .npz archive (name it "
                                ".npy)", option)
        with loaded as archive:
            return {key: archive[key] for key in archive.files}
    except NUMPY_ERRORS as exc:
        raise _numpy_failure(exc, path, option, "an array in it holds Python objects") from None


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


def pick(items: dict[str, Any], keys: tuple[str, ...]) -> Any | None:
    lowered = {k.lower(): v for k, v in items.items()}
    return next((lowered[k] for k in keys if k in lowered), None)


def as_tensor(value: Any, path: Path, option: str) -> Tensor:
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
    check_file(path, option)
    suffix = path.suffix.lower()
    if target_column is not None and suffix != ".csv":
        raise PercgradError("applies to .csv data only (an .npz or .pt file names its targets "
                            "by key: y or targets)", "--target-column")
    if suffix == ".npy":
        return as_tensor(_npy(path, option), path, option), None
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
        items: Any = read_npz(path, option)
    else:
        items = load_torch(path, option)
    if isinstance(items, Tensor | np.ndarray):
        return as_tensor(items, path, option), None
    if isinstance(items, list | tuple) and items:
        x = as_tensor(items[0], path, option)
        y = as_tensor(items[1], path, option) if len(items) > 1 else None
        return x, y
    if isinstance(items, dict) and items:
        x_val = pick(items, INPUT_KEYS)
        y_val = pick(items, TARGET_KEYS)
        if x_val is None:
            if len(items) != 1:
                raise PercgradError(f"{str(path)!r} has keys {', '.join(map(str, items))}: name "
                                    f"the inputs {' or '.join(INPUT_KEYS[:2])}", option)
            x_val = next(iter(items.values()))
        return as_tensor(x_val, path, option), None if y_val is None else as_tensor(y_val, path, option)
    raise PercgradError(f"{str(path)!r} holds no array", option)


def read_targets(path: Path, option: str = "--targets") -> Tensor:
    """Targets from a file: a .npy array, an .npz/.pt with one array (or key y/targets), a .pt
    tensor, or a CSV (one column, or every column)."""
    check_file(path, option)
    if path.suffix.lower() == ".csv":
        _, values = _csv(path, option)
        return torch.from_numpy(values[:, 0].copy() if values.shape[1] == 1 else values)
    x, y = read_data(path, None, option)
    return x if y is None else y


def read_state_dict(path: Path, option: str = "--state-dict") -> dict[str, Tensor]:
    """A state dict saved with torch.save, loaded with weights_only=True (under a
    ``state_dict`` or ``model`` key too)."""
    check_file(path, option)
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
