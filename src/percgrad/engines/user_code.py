"""Resolving TARGET, ``package.module:name`` or ``path/to/file.py:name`` (the convention of
uvicorn and gunicorn), to the user's object. Importing TARGET runs that module's code, as
``python file.py`` would: percgrad does it only for the TARGET named on the command line."""

from __future__ import annotations

import importlib
import importlib.util
import os
import random
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from percgrad.errors import PercgradError

OPTION = "TARGET"
_PERCGRAD = Path(__file__).resolve().parents[1]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _thrown(exc: BaseException) -> str:
    """What a BaseException that is not an Exception did: ``called sys.exit(0)``, or ``raised
    GeneratorExit: …`` with a word on why it cannot be left to propagate."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    return f"raised {_first_line(exc)} (a BaseException, which would end percgrad itself)"


def _is_guest_frame(filename: str) -> bool:
    """Whether a traceback frame is the user's code: not percgrad's, torch's or the standard
    library's."""
    import sysconfig

    path = Path(filename)
    if not path.is_absolute() or filename.startswith("<"):
        return False
    try:
        resolved = path.resolve()
    except OSError:
        return False
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    skipped = [_PERCGRAD, stdlib]
    torch_module = sys.modules.get("torch")
    if torch_module is not None and getattr(torch_module, "__file__", None):
        skipped.append(Path(torch_module.__file__).resolve().parent)  # type: ignore[arg-type]
    return not any(resolved.is_relative_to(root) for root in skipped)


def _in_percgrad(filename: str) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(_PERCGRAD)
    except (OSError, ValueError):
        return False


def from_guest(exc: BaseException) -> bool:
    """Whether ``exc`` went through the user's code (a frame of it in the traceback)."""
    return any(_is_guest_frame(f.filename) for f in traceback.extract_tb(exc.__traceback__))


@contextmanager
def guest_errors(what: str) -> Iterator[None]:
    """Run a later call of the user's code (``what``: ``during the finite differences, the
    model``): an exception that went through their code becomes a PercgradError naming TARGET
    and where; percgrad's own bugs pass on (exit 3). BaseExceptions are ``hosted``'s."""
    try:
        yield
    except PercgradError:
        raise
    except Exception as exc:
        if not from_guest(exc):
            raise
        raise PercgradError(f"{what} raised {_first_line(exc)}{_where(exc)}", OPTION) from None


@contextmanager
def hosted(what: str) -> Iterator[None]:
    """Run the user's code (``what``: ``importing 'm.py'``): ``sys.exit()`` and any other
    BaseException but KeyboardInterrupt (Ctrl-C stays percgrad's: exit 130) become a
    PercgradError naming TARGET, so that the user's code can neither end percgrad with its own
    status nor read as a failed check."""
    try:
        yield
    except (Exception, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise PercgradError(f"{what} {_thrown(exc)}{_where(exc)}", OPTION) from None


@dataclass
class GlobalState:
    """torch's, NumPy's and Python's process-wide settings that a user's code can change:
    autograd on or off, the default dtype, and the three random generators."""

    grad: bool
    dtype: Any
    torch_rng: Any
    numpy_rng: Any
    python_rng: Any
    seed: int

    @classmethod
    def now(cls) -> GlobalState:
        """The settings as they are."""
        import numpy as np
        import torch

        return cls(torch.is_grad_enabled(), torch.get_default_dtype(), torch.get_rng_state(),
                   np.random.get_state(), random.getstate(), torch.initial_seed())

    def restore(self, rng: bool = True) -> None:
        """Put the settings back (the generators too with ``rng``)."""
        import numpy as np
        import torch

        torch.set_grad_enabled(self.grad)
        torch.set_default_dtype(self.dtype)
        if rng:
            torch.set_rng_state(self.torch_rng)
            np.random.set_state(self.numpy_rng)
            random.setstate(self.python_rng)


def seed_everything(seed: int) -> None:
    """Seed torch, NumPy and Python's ``random`` from ``seed`` (as a script's first line would),
    before the user's code is imported or built: a model drawn at random then is the same run
    after run, and another seed draws another."""
    import numpy as np
    import torch

    torch.manual_seed(seed % 2**64)
    np.random.seed(seed % 2**32)
    random.seed(seed)


@contextmanager
def guest_run(seed: int) -> Iterator[None]:
    """One inspect or check of the user's code: the caller's global settings saved, torch,
    NumPy and ``random`` seeded, BaseExceptions named, and every setting restored at the end."""
    saved = GlobalState.now()
    seed_everything(seed)
    try:
        with hosted("the target's code"):
            yield
    finally:
        saved.restore()


def loaded_state(before: GlobalState, seed: int) -> list[Any]:
    """After the user's code was imported and built: Notes on what it changed that matters
    (autograd turned off, the default dtype, torch reseeded), autograd and the default dtype
    put back for percgrad's own work (its passes run with autograd on whatever the setting)."""
    import torch

    from percgrad.reports.user import Note

    notes = []
    if torch.is_grad_enabled() != before.grad:
        notes.append(Note("grad-mode", text=(
            f"the target's code turned autograd {'off' if before.grad else 'on'} "
            f"(torch.set_grad_enabled) when it was imported or built; percgrad runs its passes "
            f"with autograd on and put the setting back")))
    dtype = torch.get_default_dtype()
    if dtype != before.dtype:
        notes.append(Note("default-dtype", text=(
            f"the target's code set torch's default dtype to {str(dtype).removeprefix('torch.')} "
            f"when it was imported or built; percgrad put "
            f"{str(before.dtype).removeprefix('torch.')} back for its own tensors (the model "
            f"keeps the dtype it was built in)")))
    if torch.initial_seed() != seed % 2**64:
        notes.append(Note("reseeded", text=(
            f"the target's code seeds torch itself (torch.manual_seed({torch.initial_seed()})) "
            f"when it is imported or built, so --seed does not choose its random weights")))
    before.restore(rng=False)
    return notes


def _where(exc: BaseException) -> str:
    """`` (file.py, line 12)``: the innermost frame of the user's code that raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if _is_guest_frame(f.filename)] or [
        f for f in frames if not _in_percgrad(f.filename) and "importlib" not in f.filename]
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
            with _on_path(str(path.resolve().parent)), hosted(f"importing {module!r}"):
                spec.loader.exec_module(mod)
        except PercgradError:
            sys.modules.pop(name, None)
            raise
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
        with _on_path(os.getcwd()), hosted(f"importing {module!r}"):
            return importlib.import_module(module)
    except PercgradError:
        raise
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
        with hosted(f"calling {target}()"):
            return factory()
    except PercgradError:
        raise
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


def check_usable(model: Any, label: str) -> None:
    """Refuse a model that ``inspect`` cannot look into: TorchScript modules (torch.jit.script
    or trace) take no hooks; parameters on the meta device have no values."""
    import torch

    for name, module in model.named_modules():
        if isinstance(module, torch.jit.ScriptModule):
            where = f"its module {name!r} is" if name else "it is"
            raise PercgradError(
                f"{label}: {where} a TorchScript module (torch.jit.script or torch.jit.trace), "
                "which takes no module hooks, and inspect reads every module through hooks; "
                "inspect the Python module before scripting it (or check a function with "
                "percgrad check)", OPTION)
    meta = [n for n, p in [*model.named_parameters(), *model.named_buffers()] if p.is_meta]
    if meta:
        shown = ", ".join(meta[:4]) + (f" and {len(meta) - 4} more" if len(meta) > 4 else "")
        raise PercgradError(
            f"{label}: {len(meta)} parameter(s) or buffer(s) on the meta device have no values "
            f"({shown}); build the model on a real device, or load its weights (--state-dict) "
            "into one built there", OPTION)


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
