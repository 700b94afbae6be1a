"""Options → Spec: what ``single``, ``multi`` and ``vanish`` build from the CLI's options or the
Python API's keyword arguments (same names, same defaults, same validation), without torch."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from percgrad import catalog
from percgrad.errors import PercgradError
from percgrad.spec import arguments as arg
from percgrad.spec.parse import parse_numbers, parse_rows, parse_size, parse_sizes
from percgrad.spec.phase import check_spectrum_size
from percgrad.spec.run import Chain, Spec

Rows = tuple[tuple[float, ...], ...]
Numbers = float | Sequence[float] | str
Matrix = str | Sequence[float] | Sequence[Sequence[float]]
MAX_DEPTH = 10_000_000
"""Deeper chains are refused before their layer list is even built."""

COMPARE_OPTIONS = {"activation": "--compare", "init": "--compare-init", "arch": "--compare-arch"}


def positive(value: int, option: str) -> int:
    """``value`` if it is a whole number of at least 1, else a PercgradError naming ``option``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PercgradError(f"must be a whole number of at least 1, got {value!r}", option)
    return value


def numbers(value: Numbers, option: str) -> tuple[float, ...]:
    """Numbers from '0.5,-1.2', a float or a sequence: never evaluated, all finite."""
    arg.values(value, option)
    if isinstance(value, str):
        return parse_numbers(value, option)
    items: list[Any] = [value] if arg.scalar(value) else list(value)  # type: ignore[arg-type]
    return parse_numbers(",".join(repr(float(v)) for v in items), option) if items else \
        parse_numbers("", option)


def rows(value: Matrix, option: str) -> Rows:
    """Input rows from '1,2;3,4', a flat sequence (one row) or a sequence of rows."""
    arg.values(value, option)
    if isinstance(value, str):
        return parse_rows(value, option)
    if not isinstance(value, Iterable):
        raise PercgradError(f"must be rows such as '1,2;3,4', [1, 2] or [[1, 2], [3, 4]], got "
                            f"{value!r}", option)
    items: list[Any] = list(value)
    if items and all(arg.scalar(v) for v in items):
        return (numbers(items, option),)
    text = ";".join(",".join(repr(float(v)) for v in row) for row in items)
    return parse_rows(text, option)


def _batch_and_x(x: Matrix | None, batch: int | None) -> tuple[Rows | None, int]:
    arg.optional_whole(batch, "--batch")
    if x is None:
        return None, positive(1 if batch is None else batch, "--batch")
    given = rows(x, "--x")
    if batch is not None and batch != len(given):
        raise PercgradError(f"{len(given)} row(s) given but --batch is {batch}", "--x")
    return given, len(given)


def common_fields(
    *, activation: str = "sigmoid", loss: str = "mse", init: str | None = None, gain: float = 1.0,
    bias: bool | None = None, sigma_w2: float | None = None, sigma_b2: float | None = None,
    seed: int = 0, check: str = "auto", tolerance: float | None = None,
    device: str = "auto", dtype: str = "float32", max_memory: int | str | None = None,
    mistake: str | None = None,
) -> dict[str, Any]:
    """The Spec fields every command shares, names resolved through the catalog. ``init``
    defaults to normal, or to meanfield when σ_w² or σ_b² is given; σ_b² > 0 turns biases on
    unless ``bias`` is False."""
    arg.text(activation, "--activation")
    arg.text(loss, "--loss")
    arg.optional_text(init, "--init")
    arg.number(gain, "--gain")
    arg.optional_flag(bias, "--bias")
    arg.optional_number(sigma_w2, "--sigma-w2")
    arg.optional_number(sigma_b2, "--sigma-b2")
    arg.whole(seed, "--seed")
    arg.text(check, "--check")
    arg.optional_number(tolerance, "--tolerance")
    arg.text(device, "--device")
    arg.text(dtype, "--dtype")
    arg.size(max_memory)
    arg.optional_text(mistake, "--mistake")
    memory = parse_size(max_memory) if isinstance(max_memory, str) else max_memory
    given = sigma_w2 is not None or sigma_b2 is not None
    init_name = catalog.init_name(init) if init is not None else ("meanfield" if given else "normal")
    with_bias = bool(sigma_b2) if bias is None else bool(bias)
    return {
        "activation": catalog.activation_name(activation),
        "loss": catalog.loss_name(loss),
        "init": init_name,
        "gain": float(gain),
        "bias": with_bias,
        "sigma_w2": 1.0 if sigma_w2 is None else float(sigma_w2),
        "sigma_b2": 0.0 if sigma_b2 is None else float(sigma_b2),
        "seed": seed,
        "check": str(check).strip().lower(),
        "tolerance": tolerance,
        "device": device,
        "dtype": str(dtype).strip().lower(),
        "max_memory": memory,
        "mistake": None if mistake is None else catalog.mistake_name(mistake),
    }


COMMON_KEYWORDS = arg.keywords(common_fields)
"""The keyword arguments every command takes (an unknown one is refused by name)."""


def single_spec(*, inputs: int | None = None, x: Matrix | None = None,
                w: Numbers | None = None, b: Numbers | None = None, target: Numbers = 1.0,
                batch: int | None = None, **common: Any) -> Spec:
    """What ``percgrad single`` builds (``b`` sets the bias by hand and turns it on)."""
    arg.known(common, COMMON_KEYWORDS, "single")
    given_rows, n_batch = _batch_and_x(x, batch)
    w_values = None if w is None else numbers(w, "--w")
    n = positive(3 if inputs is None else inputs, "--inputs")
    given = [(opt, len(v)) for opt, v in (("--x", given_rows[0] if given_rows else None),
                                          ("--w", w_values)) if v is not None]
    if given:
        opt, length = given[0]
        if inputs is not None and length != n:
            raise PercgradError(f"has {length} value(s) but --inputs is {n}", opt)
        if len(given) == 2 and given[1][1] != length:
            raise PercgradError(f"has {given[1][1]} value(s) but --x has {length}", "--w")
        n = length
    fields = common_fields(**common)
    b_values = None if b is None else numbers(b, "--b")
    if b_values is not None:
        if common.get("bias") is False:
            raise PercgradError("sets the bias, but --no-bias turns it off", "--b")
        fields["bias"] = True
    return Spec("single", (n, 1), x=given_rows, w=w_values, b=b_values,
                target=numbers(target, "--target"), batch=n_batch, **fields)


def multi_spec(*, inputs: int | None = None, outputs: int = 4,
               hidden: str | Sequence[int] = "", x: Matrix | None = None,
               target: Numbers = 1.0, batch: int | None = None, **common: Any) -> Spec:
    """What ``percgrad multi`` builds."""
    arg.known(common, COMMON_KEYWORDS, "multi")
    given_rows, n_batch = _batch_and_x(x, batch)
    n_in = positive(3 if inputs is None else inputs, "--inputs")
    if given_rows is not None:
        if inputs is not None and len(given_rows[0]) != n_in:
            raise PercgradError(f"has {len(given_rows[0])} value(s) but --inputs is {n_in}", "--x")
        n_in = len(given_rows[0])
    if not isinstance(hidden, str | list | tuple):
        raise PercgradError(f"must be widths such as '8,8' or [8, 8], got {hidden!r}", "--hidden")
    widths = parse_sizes(hidden, "--hidden") if isinstance(hidden, str) else \
        tuple(positive(h, "--hidden") for h in hidden)
    sizes = (n_in, *widths, positive(outputs, "--outputs"))
    return Spec("multi", sizes, x=given_rows, target=numbers(target, "--target"), batch=n_batch,
                **common_fields(**common))


def chain_spec(*, depth: int = 10, width: int = 1, inputs: int | None = None,
               residual: bool = False, norm: str = "none", steps: int = 0, lr: float = 0.1,
               bound: bool | None = None, tensors: bool = False, target: Numbers = 1.0,
               batch: int | None = None, spectrum: bool = False, **common: Any) -> Spec:
    """What ``percgrad vanish`` builds (without its comparisons); ``spectrum``: refuse a chain
    whose Jacobian is too big for ``--spectrum``."""
    arg.known(common, COMMON_KEYWORDS, "vanish")
    arg.flag(residual, "--residual")
    arg.text(norm, "--norm")
    arg.optional_flag(bound, "--bound")
    arg.flag(tensors, "--tensors")
    arg.flag(spectrum, "--spectrum")
    arg.whole(steps, "--steps", 0, arg.MAX_STEPS)
    arg.number(lr, "--lr")
    positive(depth, "--depth")
    positive(width, "--width")
    n_in = width if inputs is None else positive(inputs, "--inputs")
    if spectrum:
        check_spectrum_size(depth, width, n_in)
    if depth > MAX_DEPTH:
        raise PercgradError(f"at most {MAX_DEPTH:,} layers, got {depth:,}", "--depth")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise PercgradError(f"must be a whole number, 0 or more, got {steps!r}", "--steps")
    if steps and not (lr > 0 and lr < float("inf")):
        raise PercgradError(f"must be a positive finite number, got {lr!r}", "--lr")
    return Spec(
        "vanish", (n_in,) + (width,) * depth, target=numbers(target, "--target"),
        batch=positive(1 if batch is None else batch, "--batch"), keep_tensors=tensors,
        bound=bound, residual=bool(residual), norm=catalog.norm_name(str(norm)),
        chain=Chain(depth, width, steps, lr, tensors), **common_fields(**common),
    )


def _choices(text: str | Sequence[str], resolve: Callable[[str, str], str], option: str,
             allowed: Sequence[str]) -> list[str]:
    arg.names(text, option)
    items = [i.strip() for i in (text.split(",") if isinstance(text, str) else text) if i.strip()]
    if not items:
        raise PercgradError(f"expected a comma-separated list of {', '.join(allowed)}", option)
    return list(dict.fromkeys(resolve(item, option) for item in items))


def comparison(activations: str | Sequence[str] | None, inits: str | Sequence[str] | None,
               archs: str | Sequence[str] | None, steps: int = 0) -> tuple[str, list[str]] | None:
    """What a comparison varies and its values, checked (no torch needed)."""
    given = [(by, v) for by, v in (("activation", activations), ("init", inits), ("arch", archs))
             if v is not None]
    if not given:
        return None
    if len(given) > 1:
        names = " and ".join(COMPARE_OPTIONS[by] for by, _ in given)
        raise PercgradError(f"give one comparison at a time, not {names}", COMPARE_OPTIONS[given[0][0]])
    by, values = given[0]
    if steps:
        raise PercgradError(f"cannot be combined with {COMPARE_OPTIONS[by]}", "--steps")
    resolve, allowed = {
        "activation": (catalog.activation_name, catalog.ACTIVATION_NAMES),
        "init": (catalog.init_name, catalog.INIT_NAMES),
        "arch": (catalog.arch_name, catalog.archs()),
    }[by]
    return by, _choices(values, resolve, COMPARE_OPTIONS[by], allowed)


def variant(spec: Spec, by: str, value: str) -> Spec:
    """``spec`` with one compared setting changed (re-validated): a value the chain cannot take
    is blamed on the comparison's option (--compare-arch …), not on --norm or --activation."""
    try:
        if by == "arch":
            residual, norm = catalog.arch_fields(value)
            return dataclasses.replace(spec, residual=residual, norm=norm)
        if by == "init":
            return dataclasses.replace(spec, init=value)
        return dataclasses.replace(spec, activation=value)
    except PercgradError as exc:
        option = COMPARE_OPTIONS[by]
        if exc.option == option:
            raise
        raise PercgradError(f"{value} cannot be compared here: {exc.message}", option) from None


def check_variants(spec: Spec, compared: tuple[str, list[str]] | None) -> None:
    """Build every compared variant of ``spec`` before anything runs, so that a value the
    chain cannot take is refused at once, named by its comparison option."""
    if compared is not None:
        by, values = compared
        for value in values:
            variant(spec, by, value)
