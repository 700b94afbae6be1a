"""The Python API, one thin function per command: ``percgrad.single``, ``multi``, ``vanish``,
``phase``, ``explain``, ``inspect``, ``check`` and ``watch`` take the CLI's options as
keyword arguments (same names with ``_``, same defaults, same validation, errors as
PercgradError) and return a Report. The CLI is a thin layer over these functions.

Importing this module imports neither torch nor NumPy; a run imports them when it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from percgrad.errors import PercgradError
from percgrad.runtime.progress import Progress, Tracker
from percgrad.spec import arguments as arg
from percgrad.spec.build import Matrix, Numbers, chain_spec, comparison, multi_spec, single_spec
from percgrad.spec.run import Spec

if TYPE_CHECKING:
    from percgrad.engines.watch.recorder import Recorder
    from percgrad.reports.explain import Example
    from percgrad.reports.phase import PhaseReport
    from percgrad.reports.run import Report
    from percgrad.reports.user import FunctionCheckReport, InspectReport
    from percgrad.reports.watch import WatchReport

MAX_SEED = 2**63 - 1
"""The largest --seed (as Spec takes)."""
MAX_INSPECT_STEPS = 10_000
"""engines.inspect.MAX_STEPS (checked here too, before the user's code is imported)."""


def run_one(spec: Spec, track: Tracker | None = None) -> Report:
    """One single or multi run, from spec to report (``track``: progress per phase)."""
    from percgrad.engines.perceptron import run

    return run(spec, track)


def single(*, inputs: int | None = None, x: Matrix | None = None, w: Numbers | None = None,
           b: Numbers | None = None, **options: Any) -> Report:
    """One neuron o = φ(x·wᵀ + b): ``percgrad single`` as a function (same options)."""
    arg.optional_whole(inputs, "--inputs")
    return run_one(single_spec(inputs=inputs, x=x, w=w, b=b, **options))


def multi(*, inputs: int | None = None, outputs: int = 4, hidden: str | Sequence[int] = "",
          x: Matrix | None = None, **options: Any) -> Report:
    """A layer or a multi-layer perceptron: ``percgrad multi`` as a function."""
    arg.optional_whole(inputs, "--inputs")
    arg.whole(outputs, "--outputs")
    return run_one(multi_spec(inputs=inputs, outputs=outputs, hidden=hidden, x=x, **options))


def vanish(*, compare: str | Sequence[str] | None = None,
           compare_init: str | Sequence[str] | None = None,
           compare_arch: str | Sequence[str] | None = None, spectrum: bool = False,
           **options: Any) -> Report:
    """A deep chain: ``percgrad vanish`` as a function (``compare`` is ``--compare``)."""
    for value, option in ((compare, "--compare"), (compare_init, "--compare-init"),
                          (compare_arch, "--compare-arch")):
        if value is not None:
            arg.names(value, option)
    spec = chain_spec(spectrum=spectrum, **options)
    steps = spec.chain.steps if spec.chain is not None else 0
    return run_chain(spec, comparison(compare, compare_init, compare_arch, steps),
                     spectrum=spectrum)


def run_chain(spec: Spec, compared: tuple[str, list[str]] | None, track: Tracker | None = None,
              spectrum: bool = False) -> Report:
    """A vanish run from its spec: one chain, or one per compared value."""
    from percgrad.engines.vanish import run_chain as run

    return run(spec, compared, track, spectrum)


def phase(*, progress: Progress | None = None, **options: Any) -> PhaseReport:
    """The order-to-chaos phase diagram: ``percgrad phase`` as a function (same options)."""
    from percgrad.engines.phase import run_phase
    from percgrad.spec.phase import phase_spec

    arg.known(options, arg.keywords(phase_spec), "phase")
    arg.progress(progress)
    for name in ("activation", "device", "dtype"):
        if name in options:
            arg.text(options[name], f"--{name}")
    for name in ("sigma_w2", "sigma_b2"):
        if options.get(name) is not None:
            options[name] = _grid_text(options[name], f"--{name.replace('_', '-')}")
    if options.get("lr") is not None:
        arg.number(options["lr"], "--lr")
    if "max_memory" in options:
        arg.size(options["max_memory"])
    return run_phase(phase_spec(**options), progress)


def _grid_text(value: Any, option: str) -> str:
    """A sweep's values in words (``'1:2:0.5'``, ``'1,1.5'``), from a number or a list too."""
    if isinstance(value, str):
        return value
    items = value if isinstance(value, list | tuple) else [value]
    return ",".join(repr(arg.number(v, option)) for v in items) if items else \
        arg.text(value, option)


def explain(topic: str, **unknown: Any) -> Example:
    """The numbers of one ``percgrad explain`` topic's worked example, computed now."""
    from percgrad.engines.explain import example

    arg.known(unknown, (), "explain")
    return example(arg.text(topic, "TOPIC"))


def inspect(model: Any, inputs: Any = None, *, targets: Any = None,
            input_shape: str | Sequence[int] | Sequence[str] | None = None,
            data: str | None = None, input_kwargs: dict[str, Any] | None = None,
            output: str | int | None = None, class_dim: int | None = None,
            target_column: str | None = None, targets_file: str | None = None,
            state_dict: str | None = None, loss: str = "auto", train: bool = True, steps: int = 0,
            lr: float = 0.1, check: str = "auto", tolerance: float | None = None, seed: int = 0,
            device: str = "auto", max_memory: int | str | None = None,
            progress: Progress | None = None, **unknown: Any) -> InspectReport:
    """A user's model, module by module, and its gradient check: ``percgrad inspect`` as a
    function. ``model``: an nn.Module, a callable returning one, or a TARGET string (imported:
    that runs its code); ``inputs``: a tensor or a tuple of them (or ``input_shape``/``data``)."""
    from percgrad.engines.inspect import InspectOptions, inspect_target

    arg.known(unknown, arg.keywords(inspect), "inspect")
    if input_shape is not None and not (isinstance(input_shape, list | tuple) and input_shape
                                        and all(isinstance(v, str) for v in input_shape)):
        input_shape = arg.shape(input_shape, "--input-shape")
    if input_kwargs is not None and (not isinstance(input_kwargs, dict) or not all(
            isinstance(k, str) for k in input_kwargs)):
        raise PercgradError(f"must be a dict of keyword inputs, got {input_kwargs!r}",
                            "input_kwargs")
    if output is not None and (isinstance(output, bool) or not isinstance(output, str | int)):
        raise PercgradError(f"must be a key, an attribute or an index, got {output!r}",
                            "--output")
    if class_dim is not None:
        arg.whole(class_dim, "--class-dim", -64, 63)
    data = arg.path(data, "--data")
    targets_file = arg.path(targets_file, "--targets")
    state_dict = arg.path(state_dict, "--state-dict")
    arg.optional_text(target_column, "--target-column")
    arg.text(loss, "--loss")
    arg.flag(train, "--train")
    arg.whole(steps, "--steps", 0, MAX_INSPECT_STEPS)
    arg.number(lr, "--lr")
    arg.text(check, "--check")
    arg.optional_number(tolerance, "--tolerance")
    arg.whole(seed, "--seed", -MAX_SEED, MAX_SEED)
    arg.text(device, "--device")
    arg.progress(progress)
    options = InspectOptions(loss=loss, train=train, steps=steps, lr=lr, check=check,
                             tolerance=tolerance, seed=seed, device=device,
                             max_memory=memory_limit(max_memory),
                             output=None if output is None else str(output), class_dim=class_dim)
    return inspect_target(model, inputs, targets=targets, input_shape=input_shape, data=data,
                          target_column=target_column, targets_file=targets_file,
                          state_dict=state_dict, options=options, progress=progress,
                          input_kwargs=input_kwargs)


def check(fn: Any, *inputs: Any, shapes: str | None = None, check: str = "auto",
          tolerance: float | None = None, seed: int = 0, dtype: str = "float64",
          max_memory: int | str | None = None,
          progress: Progress | None = None, **unknown: Any) -> FunctionCheckReport:
    """A readable gradcheck of ``fn(*inputs)``: ``percgrad check`` as a function. ``fn``: a
    function of tensors, an autograd.Function (its ``apply``) or a TARGET string; ``inputs``:
    tensors, or ``shapes`` (``"3x4,4"``) for random seeded ones."""
    from percgrad.engines.check import check_target

    arg.known(unknown, arg.keywords(_check), "check")  # (``check`` here is the option)
    shapes = arg.shapes(shapes, "--shapes")  # type: ignore[assignment]
    arg.text(check, "--check")
    arg.optional_number(tolerance, "--tolerance")
    arg.whole(seed, "--seed", -MAX_SEED, MAX_SEED)
    arg.text(dtype, "--dtype")
    arg.progress(progress)
    return check_target(fn, list(inputs), shapes=shapes, method=check, tolerance=tolerance,
                        seed=seed, dtype=dtype, progress=progress,
                        max_memory=memory_limit(max_memory))


_check = check

MAX_EVERY = 1_000_000
"""The largest --every."""


def watch(*models: Any, every: int | None = None, locate: bool = True,
          **unknown: Any) -> Recorder:
    """Watch ``models`` (nn.Modules) through a training run: ``with percgrad.watch(model) as w:
    …train…`` (or ``w = percgrad.watch(model)`` … ``w.close()``), then ``w.report()``. Every
    optimizer step of a torch optimizer over their parameters is a step (``w.step_done()`` for a
    loop without one); ``every``: record every N-th (None: every step, thinned to at most 2,000
    evenly spaced ones on a long run); ``locate``: find the op that made the
    first non-finite value."""
    from torch import nn

    from percgrad.engines.watch.recorder import Recorder

    arg.known(unknown, ("every", "locate"), "watch")
    if not models or not all(isinstance(m, nn.Module) for m in models):
        raise PercgradError("give the nn.Module(s) to watch, e.g. percgrad.watch(model); "
                            f"got {', '.join(type(m).__name__ for m in models) or 'nothing'}",
                            "model")
    if every is not None:
        arg.whole(every, "--every", 1, MAX_EVERY)
    arg.flag(locate, "locate")
    return Recorder(models, every=every, locate_nonfinite=locate).open()


def watch_script(script: str, args: Sequence[str] = (), *, module: bool = False,
                 every: int | None = None,
                 locate: bool = True, log: str | None = None,
                 listener: Any = None) -> WatchReport:
    """``percgrad watch SCRIPT [ARGS…]``: run a training script unchanged, watching every model
    an optimizer steps; the report holds the script's exit code. ``log``: a JSON-lines file
    written as the run goes; ``listener``: called with the recorder after each watched step."""
    from pathlib import Path

    from percgrad.engines.watch.log import StepLog
    from percgrad.engines.watch.recorder import Recorder
    from percgrad.engines.watch.script import run_script

    if every is not None:
        arg.whole(every, "--every", 1, MAX_EVERY)
    target = f"-m {script}" if module else script
    writer = StepLog(Path(log), target, every or 1) if log is not None else None

    def after(rec: Recorder) -> None:
        if writer is not None:
            modules, acts = rec.tracks()
            writer.write([type(m.root).__name__ for m in rec.models], modules, acts, rec.steps,
                         rec.loss)
        if listener is not None:
            listener(rec)

    recorder = Recorder(every=every, locate_nonfinite=locate,
                        listener=after if (writer or listener) else None, target=target)
    run = run_script(recorder, script, args, module)
    report = recorder.report(run.exit_code, run.interrupted)
    if run.error is not None:
        report.notes.append(run.error)
    if writer is not None:
        writer.finish(report)
    return report


def replay(log: str) -> WatchReport:
    """``percgrad watch --replay run.jsonl``: the report of a logged run."""
    from pathlib import Path

    from percgrad.engines.watch.log import replay as read

    return read(Path(arg.path(log, "--replay") or log))


def memory_limit(value: int | str | None) -> int | None:
    """``max_memory`` in bytes: a size like ``"2G"`` or a whole number of bytes (None: what
    the device has free)."""
    from percgrad.spec.parse import parse_size

    value = arg.size(value)
    return parse_size(value) if isinstance(value, str) else value
