"""``percgrad inspect``: a user's model, leaf module by leaf module. One forward and backward
pass with hooks gives every module's statistics (engines.module_stats), the flow is diagnosed by
the rule of ``vanish`` (engines.diagnose), the model's gradient is checked on a float64 copy
(engines.model_check) and, when that fails, localised to the first module whose own backward
disagrees (engines.localise). Options and the user's model and data in, an InspectReport out."""

from __future__ import annotations

import copy
import inspect as inspect_module
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from percgrad.engines.data_files import load_state, read_state_dict
from percgrad.engines.diagnose import DEAD_BATCH, diagnose_model
from percgrad.engines.hooks import hooked, label, leaves, no_inplace
from percgrad.engines.kinks import off_kinks
from percgrad.engines.localise import localise
from percgrad.engines.model_check import check_model, float64_copy, to_float64
from percgrad.engines.model_loss import CLASS_DIM, OUTPUT_KEY, TOKENS, class_axis, resolve_loss
from percgrad.engines.module_stats import Pass, call_model, module_stats, one_pass, precise_pass
from percgrad.engines.user_code import (
    GlobalState,
    _first_line,
    check_usable,
    guest_errors,
    guest_run,
    loaded_state,
    resolve_module,
)
from percgrad.engines.user_data import (
    check_sources,
    input_specs,
    input_tensors,
    map_inputs,
    model_data,
    model_dtype,
    split_inputs,
)
from percgrad.errors import PercgradError
from percgrad.reports.user import GradCheck, HistoryStep, InspectReport, Localisation, ModuleStats, Note
from percgrad.runtime import memory
from percgrad.runtime.device import available_bytes, device_info, resolve_device
from percgrad.runtime.progress import Progress
from percgrad.spec import check as judge
from percgrad.version import __version__

MAX_STEPS = 10_000


@dataclass(frozen=True)
class InspectOptions:
    """What ``inspect`` does besides the model and its data."""

    loss: str = "auto"
    train: bool = True
    steps: int = 0
    lr: float = 0.1
    check: str = "auto"
    tolerance: float | None = None
    seed: int = 0
    device: str = "auto"
    max_memory: int | None = None
    """Bytes the run may use (--max-memory); None: what the device has free."""
    output: str | None = None
    """--output: the output the loss is taken of (None: logits, else the first tensor)."""
    class_dim: int | None = None
    """--class-dim: the output's axis of classes for cross-entropy (None: model_loss.class_axis)."""


def _history(model: nn.Module, args: Sequence[Any], kind: str, targets: Tensor | None,
             opts: InspectOptions, first: Pass, stats: list[ModuleStats], notes: list[Note],
             progress: Progress | None, history: list[HistoryStep]) -> None:
    """Plain SGD for ``opts.steps`` steps on the batch; per step, E and every module's
    ‖∂E/∂W‖ and ‖∂E/∂output‖, appended to ``history`` as they come (a Ctrl-C keeps them)."""
    names = [s.name for s in stats]

    def point(step: int, result: Pass) -> HistoryStep:
        now = {s.name: s for s in module_stats(model, result)}
        return HistoryStep(step, result.loss, [now[n].grad_norm if n in now else None for n in names],
                           [now[n].output_grad_norm if n in now else None for n in names])

    history.append(point(0, first))
    for step in range(1, opts.steps + 1):
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p.sub_(opts.lr * p.grad)
        result, targets = one_pass(model, args, kind, targets, opts.seed)
        history.append(point(step, result))
        if progress is not None:
            progress(step, opts.steps)
        if not math.isfinite(result.loss) or not all(
                g is None or bool(torch.isfinite(g).all()) for g in result.grads.values()):
            notes.append(Note("training-stopped", value=opts.lr, text=str(step)))
            break


def inspect_model(model: nn.Module, inputs: Sequence[Any], targets: Tensor | None = None,
                  options: InspectOptions | None = None, target: str = "",
                  progress: Progress | None = None,
                  settings: dict[str, Any] | None = None,
                  notes: Sequence[Note] = ()) -> InspectReport:
    """Everything ``percgrad inspect`` shows, for ``model`` on ``inputs`` (``notes``: what the
    loading of the user's code found, e.g. that it turned autograd off)."""
    opts = options or InspectOptions()
    tokens = any(not a.is_floating_point() and not a.is_complex() and a.dtype != torch.bool
                 for a in input_tensors(inputs))
    token, dim, ids = OUTPUT_KEY.set(opts.output), CLASS_DIM.set(opts.class_dim), TOKENS.set(tokens)
    try:
        return _inspect_model(model, inputs, targets, opts, target, progress, settings, notes)
    finally:
        OUTPUT_KEY.reset(token)
        CLASS_DIM.reset(dim)
        TOKENS.reset(ids)


def _inspect_model(model: nn.Module, inputs: Sequence[Any], targets: Tensor | None,
                   opts: InspectOptions, target: str, progress: Progress | None,
                   settings: dict[str, Any] | None, notes: Sequence[Note]) -> InspectReport:
    """``inspect_model`` with --output set."""
    if isinstance(opts.steps, bool) or not isinstance(opts.steps, int) or not 0 <= opts.steps <= MAX_STEPS:
        raise PercgradError(f"must be a whole number from 0 to {MAX_STEPS}, got {opts.steps!r}",
                            "--steps")
    if opts.steps and not (math.isfinite(opts.lr) and opts.lr > 0):
        raise PercgradError(f"must be a positive finite number, got {opts.lr!r}", "--lr")
    if not isinstance(model, nn.Module):
        raise PercgradError(f"expected an nn.Module, got a {type(model).__name__}", "TARGET")
    started = time.perf_counter()
    device = resolve_device(opts.device)
    kind = resolve_loss(opts.loss, targets is not None)
    tol = judge.tolerance("float64", opts.tolerance)
    notes = list(notes)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        total = sum(p.numel() for p in model.parameters())
        raise PercgradError(
            f"{type(model).__name__} has no parameters that require a gradient "
            f"({total:,} parameter(s), none with requires_grad=True): inspect shows ‖∂E/∂W‖ and "
            "checks it, so there is nothing to look at; unfreeze them, or check the model as a "
            "function of its input with percgrad check", "TARGET")
    _guard(model, inputs, opts, device)
    work = copy.deepcopy(model)
    no_inplace(work)
    work.to(device)
    work.train(opts.train)
    args = map_inputs(inputs, lambda a: a.to(device) if isinstance(a, Tensor) else a)
    check_arity(work, args)
    t = targets.to(device) if targets is not None else None
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(opts.seed)
        first, t = one_pass(work, args, kind, t, opts.seed)
        notes += first.notes
        if kind == "cross-entropy" and first.output_shape is not None and len(first.output_shape) >= 3:
            axis = class_axis(torch.empty(first.output_shape, device="meta"), t)
            notes.append(Note("class-axis", value=float(axis),
                              text="×".join(str(n) for n in first.output_shape)))
        stats = module_stats(work, first)
        batch = next((a.shape[0] for a in input_tensors(args) if a.dim() >= 1), 1)
        diagnosis = diagnose_model(stats, first, batch,
                                   precise_pass(work, args, kind, t, opts.seed))
        if batch < DEAD_BATCH and any(s.dead for s in stats):
            notes.append(Note("small-batch", value=float(batch)))
        history: list[HistoryStep] | None = None
        interrupted = False
        if opts.steps:
            history = []
            try:
                with guest_errors("while training, the model"):
                    _history(work, args, kind, t, opts, first, stats, notes, progress, history)
            except KeyboardInterrupt:  # what was measured so far is kept and shown
                interrupted = True
                notes.append(Note("training-interrupted", text=str(history[-1].step)))
    stats_s = time.perf_counter() - started
    called = {s.name for s in stats}
    idle = [label(n) for n, _ in leaves(model) if label(n) not in called]
    if idle:
        notes.append(Note("not-called", tuple(idle)))
    unused = tuple(n for s in stats for n in s.unused)
    if unused:
        notes.append(Note("unused", unused))
    method = judge.method(opts.check, sum(p.numel() for p in trainable))
    check, localisation = GradCheck(method, tol, None, None, reason="interrupted"), None
    if not interrupted:
        try:
            with guest_errors("during the gradient check (a later call than the first pass), "
                              "the model"):
                check, localisation = _check_and_localise(model, args, kind, t, opts, tol, stats,
                                                          notes, progress)
        except KeyboardInterrupt:  # the table and the diagnosis are kept and shown
            interrupted = True
    if "constant-loss" in diagnosis.kinds and check.passed is not None and localisation is None:
        # the differences and autograd agree on rounding noise: that judges nothing
        check.passed, check.reason = None, "constant-loss"
    numeric_s = time.perf_counter() - started - stats_s
    n_params = sum(p.numel() for p in model.parameters())
    return InspectReport(
        target=target, model=type(model).__name__,
        settings={**(settings or {}), "loss": kind, "mode": "train" if opts.train else "eval",
                  "dtype": str(next((p.dtype for p in model.parameters()), torch.float32)
                               ).removeprefix("torch."),
                  "steps": opts.steps, "lr": opts.lr, "check": check.method,
                  "requested_check": opts.check, "tolerance": tol, "seed": opts.seed,
                  "device": str(device)},
        device=device_info(device),
        input_shapes=[tuple(a.shape) for a in input_tensors(args)],
        output_shape=first.output_shape, loss=first.loss, params=n_params, modules=stats,
        diagnosis=diagnosis, check=check, localisation=localisation, history=history,
        notes=notes, timing={"stats_s": stats_s, "check_s": numeric_s}, version=__version__,
        interrupted=interrupted,
    )


def _guard(model: nn.Module, inputs: Sequence[Any], opts: InspectOptions,
           device: torch.device) -> None:
    """Refuse a run whose floor (inputs and parameters; see runtime.memory) cannot fit."""
    entries = sum(a.numel() for a in input_tensors(inputs))
    _guard_sizes(entries, model, opts, device)


def _guard_sizes(entries: int, model: nn.Module, opts: InspectOptions,
                 device: torch.device) -> None:
    params = sum(p.numel() for p in model.parameters())
    size = model_dtype(model).itemsize
    method = judge.method(opts.check, params)
    parts = memory.model_floor(entries, params, size, method)
    memory.guard_floor(parts, available_bytes(device), opts.max_memory, str(device),
                       "--input-shape (or --data), --check off", "--input-shape")


def _check_and_localise(model: nn.Module, args: Sequence[Any], kind: str, t: Tensor | None,
                        opts: InspectOptions, tol: float, stats: list[ModuleStats],
                        notes: list[Note], progress: Progress | None
                        ) -> tuple[GradCheck, Localisation | None]:
    """The model's check on a float64 copy in eval mode, localised when it fails."""
    if str(opts.check).strip().lower() == "off":
        return GradCheck("off", tol, None, None, reason="off"), None
    try:
        m64 = float64_copy(model).to(next((a.device for a in input_tensors(args)),
                                          torch.device("cpu")))
        args64 = map_inputs(args, to_float64)
        t64 = to_float64(t) if t is not None else None
        with torch.no_grad(), hooked(m64) as sizes:
            call_model(m64, args64)
    except PercgradError:
        raise
    except Exception as exc:
        return GradCheck(judge.method(opts.check, 0), tol, None, None, reason="float64-unavailable",
                         detail=_first_line(exc)), None
    notes.append(Note("eval-copy"))
    zeros, left, moved = off_kinks(m64, lambda: call_model(m64, args64), opts.seed)
    if zeros:
        notes.append(Note("kinks-nudged", tuple(moved), float(zeros), str(left)))
    row_bytes = 8 * 3 * sum(r.numel for r in sizes.values())
    check = check_model(m64, args64, kind, t64, opts.check, tol, opts.seed, row_bytes, progress)
    localisation = None
    if check.passed is False:
        localisation = localise(m64, args64, tol, opts.seed, stats)
    return check, localisation


def inspect_target(model: Any, inputs: Any = None, *, targets: Any = None,
                   input_shape: Any = None, data: str | Path | None = None,
                   target_column: str | None = None, targets_file: str | Path | None = None,
                   state_dict: str | Path | None = None, options: InspectOptions | None = None,
                   progress: Progress | None = None,
                   input_kwargs: dict[str, Any] | None = None) -> InspectReport:
    """``inspect`` from what the user gives: a TARGET string or a model (or a callable building
    one); inputs as tensors, a shape for random ones, or a data file; targets as a tensor, a
    file or a CSV column; weights from a state-dict file."""
    opts = options or InspectOptions()
    resolve_loss(opts.loss, True)
    judge.method(opts.check, 0)
    check_sources(inputs, input_shape, data, targets, targets_file)
    with guest_run(opts.seed):
        # --seed seeds torch, NumPy and random before the user's code is imported or built
        before = GlobalState.now()
        module = resolve_module(model)
        loaded = loaded_state(before, opts.seed)
        if state_dict is not None:
            load_state(module, read_state_dict(Path(state_dict)))
        check_usable(module, model if isinstance(model, str) else type(module).__name__)
        if input_shape is not None:
            # before the inputs exist: a shape too large for memory is refused, not allocated
            entries = sum(math.prod(s.shape) for s in input_specs(input_shape))
            _guard_sizes(entries, module, opts, resolve_device(opts.device))
        got = model_data(module, inputs, targets, input_shape, data, target_column, targets_file,
                         opts.seed, input_kwargs)
        settings = {"input_shape": None if input_shape is None else list(got.args[0].shape),
                    "data": None if data is None else str(data),
                    "targets": "file" if got.targets_from_file else
                    ("given" if targets is not None else None),
                    "state_dict": None if state_dict is None else str(state_dict),
                    "inputs": got.source}
        return inspect_model(module, got.args, got.targets, opts,
                             model if isinstance(model, str) else "", progress, settings, loaded)


def check_arity(model: nn.Module, args: Sequence[Any]) -> None:
    """Refuse inputs the forward cannot take (one missing, one too many), naming its parameters
    and how to give them, before torch's own complaint from inside module.py."""
    try:
        sig = inspect_module.signature(model.forward)
    except (TypeError, ValueError):
        return
    pos, kw = split_inputs(args)
    try:
        sig.bind(*pos, **kw)
    except TypeError as exc:
        names = ", ".join(str(p) for p in sig.parameters.values())
        hints = " ".join(f"--input-shape {p.name}=SHAPE" for i, p in
                         enumerate(sig.parameters.values())
                         if i >= len(pos) and p.default is p.empty and p.name not in kw
                         and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        raise PercgradError(
            f"{type(model).__name__}.forward({names}) cannot take the inputs given ({len(pos)} "
            f"positional{', keywords ' + ', '.join(kw) if kw else ''}): {exc}; give one "
            f"--input-shape per positional input, in order, and NAME=SHAPE for the others"
            f"{f' (e.g. {hints})' if hints else ''}, or a tuple of inputs and input_kwargs in "
            "Python", "--input-shape") from None
