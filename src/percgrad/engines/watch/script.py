"""Running a user's training script unchanged under a recorder (``percgrad watch SCRIPT.py``,
``-m package.module``), as ``python`` would: its own ``sys.argv``, ``__main__``, exit status and
traceback. Every model an optimizer steps is found through PyTorch's global module hooks (the
modules called from outside any other) and watched from that step on."""

from __future__ import annotations

import os
import runpy
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from percgrad.engines.watch.recorder import Recorder
from percgrad.errors import PercgradError


class Discovery:
    """The modules called at depth 0 (a model's root), for the recorder to match against the
    parameters an optimizer steps."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.depth = 0
        self.roots: dict[int, nn.Module] = {}
        self.handles: list[Any] = []

    def open(self) -> None:
        from torch.nn.modules.module import (
            register_module_forward_hook,
            register_module_forward_pre_hook,
        )

        self.handles = [register_module_forward_pre_hook(self._enter),
                        register_module_forward_hook(self._leave)]

    def close(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    def _enter(self, mod: nn.Module, args: Any) -> None:
        if self.depth == 0:
            self.roots[id(mod)] = mod
        self.depth += 1

    def _leave(self, mod: nn.Module, args: Any, out: Any) -> None:
        self.depth = max(0, self.depth - 1)

    def match(self, optimizer: torch.optim.Optimizer) -> None:
        """Watch every root whose parameters ``optimizer`` steps."""
        self.depth = 0  # a forward that raised left it counting
        stepped = {id(p) for g in optimizer.param_groups for p in g["params"]}
        for root in list(self.roots.values()):
            if any(id(p) in stepped for p in root.parameters()):
                self.recorder.add(root)


@dataclass
class ScriptRun:
    """How the script ended."""

    exit_code: int
    interrupted: bool = False
    error: str | None = None
    """The traceback of an exception the script raised (printed as python would)."""


def run_script(recorder: Recorder, target: str, args: Sequence[str], module: bool) -> ScriptRun:
    """Run ``target`` (a path, or a module with ``module``) with ``args`` as its sys.argv[1:],
    watching what it trains; its SystemExit becomes the exit code, an exception its traceback."""
    if not module:
        path = Path(target)
        if not path.is_file():
            raise PercgradError(f"no such file: {target!r} (give a Python script, or -m "
                                "package.module)", "SCRIPT")
    discovery = Discovery(recorder)
    recorder.discover = discovery.match
    saved_argv, saved_path = list(sys.argv), list(sys.path)
    sys.argv = [target, *args]
    if not module:
        sys.path.insert(0, str(Path(target).resolve().parent))
    else:
        sys.path.insert(0, os.getcwd())
    discovery.open()
    recorder.open()
    try:
        if module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target, run_name="__main__")
        return ScriptRun(0)
    except SystemExit as exc:
        code = exc.code
        return ScriptRun(code if isinstance(code, int) else (0 if code is None else 1))
    except KeyboardInterrupt:
        return ScriptRun(130, interrupted=True)
    except Exception:  # the user's own error: its traceback, as python prints it
        return ScriptRun(1, error=_user_traceback())
    finally:
        recorder.close()
        discovery.close()
        sys.argv, sys.path[:] = saved_argv, saved_path


def _user_traceback() -> str:
    """The traceback without percgrad's own frames."""
    kind, exc, tb = sys.exc_info()
    frames = traceback.extract_tb(tb)
    here = str(Path(__file__).resolve().parents[2])
    kept = [f for f in frames if not f.filename.startswith(here) and "runpy" not in f.filename]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(kept),
             *traceback.format_exception_only(kind, exc)]
    return "".join(lines)
