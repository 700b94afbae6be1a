"""Resolving TARGET, ``package.module:name`` or ``path/to/file.py:name`` (the convention of
uvicorn and gunicorn), to the user's object. Importing TARGET runs that module's code, as
``python file.py`` would: percgrad does it only for the TARGET named on the command line."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from percgrad.errors import PercgradError

OPTION = "TARGET"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _where(exc: BaseException) -> str:
    """`` (file.py, line 12)``: the innermost frame of the user's code that raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if "percgrad" not in Path(f.filename).parts[-2:-1]
              and "importlib" not in f.filename]
    if not inside:
        return ""
    f = inside[-1]
    return f" ({Path(f.filename).name}, line {f.lineno})"


@contextmanager
def _on_path(folder: str) -> Iterator[None]:
    """``folder`` first on sys.path while the user's module imports (its sibling imports)."""
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


def split(target: str) -> tuple[str, str]:
    """``module:attr`` into its two parts, checked for form."""
    text = target.strip()
    module, sep, attr = text.rpartition(":")
    if not sep or not module or not attr or (len(module) == 1 and module.isalpha() and "\\" in attr):
        raise PercgradError(
            f"{target!r} is not of the form package.module:name or path/to/file.py:name",
            OPTION)
    if not all(part.isidentifier() for part in attr.split(".")):
        raise PercgradError(f"{attr!r} in {target!r} is not a Python name (or a dotted path of "
                            "names)", OPTION)
    return module, attr


def _is_path(module: str) -> bool:
    return module.endswith(".py") or "/" in module or os.sep in module


def import_module(module: str) -> ModuleType:
    """Import a module by dotted name (from the current folder too) or from a .py file."""
    if _is_path(module):
        path = Path(module).expanduser()
        if not path.is_file():
            raise PercgradError(f"no such file: {module!r}", OPTION)
        if path.suffix != ".py":
            raise PercgradError(f"{module!r} is not a Python file (.py)", OPTION)
        name = f"percgrad_target_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise PercgradError(f"cannot import {module!r}", OPTION)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        try:
            with _on_path(str(path.resolve().parent)):
                spec.loader.exec_module(mod)
        except SyntaxError as exc:
            sys.modules.pop(name, None)
            raise PercgradError(f"{module!r} does not compile: {exc.msg} (line {exc.lineno})",
                                OPTION) from None
        except Exception as exc:
            sys.modules.pop(name, None)
            raise PercgradError(f"importing {module!r} raised {_first_line(exc)}{_where(exc)}",
                                OPTION) from None
        return mod
    if not all(part.isidentifier() for part in module.split(".")):
        raise PercgradError(f"{module!r} is neither a module name nor a path to a .py file", OPTION)
    try:
        with _on_path(os.getcwd()):
            return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            raise PercgradError(f"no module named {exc.name!r} (from the current folder or the "
                                "installed packages)", OPTION) from None
        raise PercgradError(f"importing {module!r} raised {_first_line(exc)}{_where(exc)}",
                            OPTION) from None
    except SyntaxError as exc:
        raise PercgradError(f"{module!r} does not compile: {exc.msg} ({Path(exc.filename or '').name}"
                            f", line {exc.lineno})", OPTION) from None
    except Exception as exc:
        raise PercgradError(f"importing {module!r} raised {_first_line(exc)}{_where(exc)}",
                            OPTION) from None


def load(target: str) -> Any:
    """The object TARGET names (its module imported: this runs the user's code)."""
    module, attr = split(target)
    obj: Any = import_module(module)
    for i, part in enumerate(attr.split(".")):
        if not hasattr(obj, part):
            where = module if i == 0 else ".".join(attr.split(".")[:i])
            public = sorted(n for n in dir(obj) if not n.startswith("_"))[:12] if i == 0 else []
            hint = f"; it has {', '.join(public)}" if public else ""
            raise PercgradError(f"{where!r} has no attribute {part!r}{hint}", OPTION)
        obj = getattr(obj, part)
    return obj


def _call(factory: Callable[[], Any], target: str) -> Any:
    try:
        return factory()
    except TypeError as exc:
        raise PercgradError(f"calling {target} with no arguments failed: {_first_line(exc)}"
                            f"{_where(exc)}", OPTION) from None
    except Exception as exc:
        raise PercgradError(f"calling {target}() raised {_first_line(exc)}{_where(exc)}",
                            OPTION) from None


def resolve_module(target: str | Any) -> Any:
    """TARGET as an ``nn.Module``: a module instance, or a callable (a class, a function)
    that returns one when called with no arguments."""
    from torch import nn

    label = target if isinstance(target, str) else type(target).__name__
    obj = load(target) if isinstance(target, str) else target
    if isinstance(obj, nn.Module):
        return obj
    if not callable(obj):
        raise PercgradError(f"{label} is a {type(obj).__name__}, not an nn.Module or a "
                            "callable returning one", OPTION)
    built = _call(obj, label)
    if not isinstance(built, nn.Module):
        raise PercgradError(f"{label}() returned a {type(built).__name__}, not an nn.Module",
                            OPTION)
    return built


def resolve_function(target: str | Any) -> tuple[Callable[..., Any], str]:
    """TARGET as a function of tensors, and its display name: a function, any callable, or an
    ``autograd.Function`` subclass (its ``apply``)."""
    from torch import autograd

    label = target if isinstance(target, str) else getattr(target, "__name__", type(target).__name__)
    obj = load(target) if isinstance(target, str) else target
    if isinstance(obj, type) and issubclass(obj, autograd.Function):
        return obj.apply, f"{obj.__name__}.apply"
    if not callable(obj):
        raise PercgradError(f"{label} is a {type(obj).__name__}, not a function", OPTION)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, type) and issubclass(owner, autograd.Function):
        name = f"{owner.__name__}.{getattr(obj, '__name__', 'apply')}"
    return obj, str(name)


def parameter_names(fn: Callable[..., Any], count: int) -> list[str]:
    """The names of a function's first ``count`` positional parameters, where it tells them
    (an autograd.Function's ``forward`` after ``ctx``); arg0, arg1, … otherwise."""
    import inspect as pyinspect

    from torch import autograd

    owner = getattr(fn, "__self__", None)
    subject: Any = owner.forward if isinstance(owner, type) and issubclass(owner, autograd.Function) \
        else fn
    try:
        params = list(pyinspect.signature(subject).parameters.values())
    except (TypeError, ValueError):
        params = []
    new_style = subject is not fn and getattr(owner, "setup_context", None) is not \
        autograd.Function.setup_context
    if subject is not fn and params and not new_style:
        params = params[1:]  # forward(ctx, …), unless setup_context takes ctx instead
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:count]
    if len(positional) < count or len(set(positional)) < count:
        return [f"arg{i}" for i in range(count)]
    return positional
