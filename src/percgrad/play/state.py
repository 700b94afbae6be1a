"""What ``percgrad play`` is set to and what each key does to it: plain Python, no Textual. The
settings are ``percgrad vanish``'s, so that every screen is one ``vanish`` run, whose command
line ``command_line`` writes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from percgrad import catalog
from percgrad.reports.explain import command_line as words
from percgrad.spec.build import chain_spec, common_fields

DEPTHS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 150, 200, 300, 500,
          1000, 2000, 5000, 10000)
WIDTHS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
SIGMA_W2 = tuple(round(0.1 * i, 4) for i in range(1, 41)) + tuple(4.0 + 0.5 * i for i in range(1, 25))
"""σ_w²: 0.1 … 4 by 0.1 (the critical lines of the usual activations lie there), then to 16."""
SIGMA_B2 = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)
GAINS = tuple(round(0.1 * i, 4) for i in range(1, 31)) + tuple(3.0 + 0.5 * i for i in range(1, 15))
TRAIN_STEPS = 20
"""SGD steps one press of ``t`` adds."""
MAX_TRAIN_STEPS = 2000
CHECK = "fast"
"""play's check: the three ways on random directions, cheap at every size."""
DEVICE = "cpu"
"""play computes on the CPU: its chains are small, and a screen is then one reproducible run."""
VANISH_DEFAULTS: dict[str, Any] = {
    "depth": 10, "width": 1, "activation": "sigmoid", "init": "normal", "gain": 1.0,
    "sigma_b2": 0.0, "residual": False, "norm": "none", "batch": 1, "seed": 0, "loss": "mse",
    "steps": 0, "lr": 0.1,
}
"""``percgrad vanish``'s defaults: a command line leaves out what equals them."""


@dataclass(frozen=True)
class Settings:
    """One ``percgrad vanish`` run, as play changes it."""

    depth: int = 10
    width: int = 1
    activation: str = "sigmoid"
    init: str = "normal"
    sigma_w2: float = 1.0
    """meanfield init only (W ~ N(0, gain²·σ_w²/fan_in))."""
    sigma_b2: float = 0.0
    """meanfield init only; > 0 turns the biases on, as in vanish."""
    gain: float = 1.0
    arch: str = "plain"
    batch: int = 1
    seed: int = 0
    loss: str = "mse"
    steps: int = 0
    """SGD steps taken with ``t`` (0: the chain at init)."""
    lr: float = 0.1


@dataclass(frozen=True)
class Row:
    """A line of the controls panel: a setting and its keys, or a reading of the run."""

    name: str
    label: str
    down: str | None
    up: str | None
    topic: str
    """The ``percgrad explain`` topic ``e`` opens on this line."""
    help: str


SETTING_ROWS = (
    Row("depth", "depth", "d", "D", "chi", "layers in the chain"),
    Row("width", "width", "w", "W", "chi", "units per layer"),
    Row("sigma_w2", "σ_w²", "v", "V", "chi", "weight variance × fan-in (meanfield init)"),
    Row("sigma_b2", "σ_b²", "b", "B", "chi", "bias variance (meanfield init; > 0: biases on)"),
    Row("gain", "gain", "g", "G", "init", "scales the init's std"),
    Row("activation", "φ", "A", "a", "saturation", "the activation, cycled"),
    Row("init", "init", "I", "i", "init", "the weight init, cycled"),
    Row("arch", "arch", "C", "c", "residual", "plain, residual, layer norm, both"),
    Row("seed", "seed", "R", "r", "check", "new weights (seed + 1)"),
    Row("steps", "trained", "T", "t", "delta", "a few SGD steps, bars animated (T: back to init)"),
)
READING_ROWS = (
    Row("decay", "‖δ₁‖/‖δ_L‖", None, None, "delta", "how much of δ reaches layer 1"),
    Row("chi", "χ̄ theory", None, None, "chi", "mean-field factor per layer"),
    Row("saturated", "saturated", None, None, "saturation", "largest share of saturated units"),
    Row("check", "check", None, None, "check", "analytic vs autograd vs finite differences"),
)
ROWS = SETTING_ROWS + READING_ROWS
MOVES = {"up": -1, "k": -1, "down": 1, "j": 1}
"""Keys that move the cursor (Textual's key names)."""
NUDGES = {"left": -1, "minus": -1, "right": 1, "plus": 1, "equals_sign": 1}
"""Keys that change the setting under the cursor."""


@dataclass(frozen=True)
class Play:
    """The settings and the line the cursor is on."""

    settings: Settings = dataclasses.field(default_factory=Settings)
    cursor: int = 0

    @property
    def row(self) -> Row:
        """The line under the cursor."""
        return ROWS[self.cursor]


def _ladder(value: float, ladder: Sequence[float], direction: int) -> float:
    """The next value of ``ladder`` above (direction 1) or below ``value``; the end stays."""
    if direction > 0:
        return next((v for v in ladder if v > value + 1e-12), max(value, ladder[-1]))
    return next((v for v in reversed(ladder) if v < value - 1e-12), min(value, ladder[0]))


def _cycle(value: str, names: Sequence[str], direction: int) -> str:
    """The name after (or before) ``value`` in ``names``, round."""
    i = names.index(value) if value in names else -direction
    return names[(i + direction) % len(names)]


def _narrowest(arch: str) -> int:
    """The narrowest width of the ladder that ``arch`` works at (layer norm: 3 units or more)."""
    least = catalog.NORMS[catalog.arch_fields(arch)[1]].min_width
    return next(w for w in WIDTHS if w >= least)


def _nearest(value: float, ladder: Sequence[float]) -> float:
    return min(ladder, key=lambda v: abs(v - value))


def change(s: Settings, name: str, direction: int, implied_sigma_w2: float | None = None) -> Settings:
    """``s`` with the setting ``name`` one step up (direction 1) or down (−1). σ_w² or σ_b² under
    another init switch to meanfield, starting from the σ_w² that init implied
    (``implied_sigma_w2``, from theory); a layer norm keeps the width it needs; every change but
    training starts from init again."""
    if name == "depth":
        return dataclasses.replace(s, depth=int(_ladder(s.depth, DEPTHS, direction)), steps=0)
    if name == "width":
        width = int(_ladder(s.width, WIDTHS, direction))
        return dataclasses.replace(s, width=max(width, _narrowest(s.arch)), steps=0)
    if name in ("sigma_w2", "sigma_b2"):
        w2 = s.sigma_w2
        if s.init != "meanfield":
            w2 = _nearest((implied_sigma_w2 or 1.0) / s.gain ** 2, SIGMA_W2)
            s = dataclasses.replace(s, init="meanfield", sigma_w2=w2, sigma_b2=0.0)
        if name == "sigma_w2":
            return dataclasses.replace(s, sigma_w2=_ladder(w2, SIGMA_W2, direction), steps=0)
        return dataclasses.replace(s, sigma_b2=_ladder(s.sigma_b2, SIGMA_B2, direction), steps=0)
    if name == "gain":
        return dataclasses.replace(s, gain=_ladder(s.gain, GAINS, direction), steps=0)
    if name == "activation":
        act = _cycle(s.activation, catalog.ACTIVATION_NAMES, direction)
        return dataclasses.replace(s, activation=act, steps=0)
    if name == "init":
        return dataclasses.replace(s, init=_cycle(s.init, tuple(catalog.INITS), direction), steps=0)
    if name == "arch":
        arch = _cycle(s.arch, catalog.archs(), direction)
        return dataclasses.replace(s, arch=arch, width=max(s.width, _narrowest(arch)), steps=0)
    if name == "seed":
        return dataclasses.replace(s, seed=max(0, s.seed + direction), steps=0)
    if name == "steps":
        steps = min(s.steps + TRAIN_STEPS, MAX_TRAIN_STEPS) if direction > 0 else 0
        return dataclasses.replace(s, steps=steps)
    raise KeyError(name)


def critical_sigma_b2(s: Settings) -> float:
    """The σ_b² the chain has (0 under an init other than meanfield)."""
    return s.sigma_b2 if s.init == "meanfield" else 0.0


def on_critical_line(s: Settings, sigma_w2: float) -> Settings:
    """``s`` with the effective σ_w² (gain² included) at ``sigma_w2``: meanfield init, its σ_b²
    kept, rounded so that its command line is exact."""
    w2 = round(sigma_w2 / s.gain ** 2, 4)
    return dataclasses.replace(s, init="meanfield", sigma_w2=w2, sigma_b2=critical_sigma_b2(s),
                               steps=0)


KEYS: dict[str, tuple[str, int]] = {
    **{r.down: (r.name, -1) for r in SETTING_ROWS if r.down},
    **{r.up: (r.name, 1) for r in SETTING_ROWS if r.up},
}
"""Each setting's own keys: key → (setting, direction)."""


def press(play: Play, key: str, implied_sigma_w2: float | None = None) -> Play:
    """``play`` after ``key`` (a Textual key name): a setting's own key, a cursor move, or a
    change of the setting under the cursor; any other key leaves it as it is."""
    if key in KEYS:
        name, direction = KEYS[key]
        return dataclasses.replace(play, settings=change(play.settings, name, direction,
                                                         implied_sigma_w2))
    if key in MOVES:
        return dataclasses.replace(play, cursor=(play.cursor + MOVES[key]) % len(ROWS))
    if key in NUDGES and play.row.down is not None:
        return dataclasses.replace(play, settings=change(play.settings, play.row.name,
                                                         NUDGES[key], implied_sigma_w2))
    return play

APP_KEYS = (
    ("↑ ↓  j k", "move the cursor over the settings and readings"),
    ("← →  - +", "change the setting under the cursor"),
    ("x", "σ_w² onto the critical line χ₁ = 1 at this σ_b² (meanfield init)"),
    ("e", "explain what is under the cursor (percgrad explain)"),
    ("s", "save the screen as SVG and print its percgrad vanish command line"),
    ("?", "this help"),
    ("q", "quit"),
)
"""The keys that act on the app rather than on one setting."""


def key_table() -> list[tuple[str, str]]:
    """Every key and what it does, as the help page and docs/play.md list them."""
    own = [(f"{r.down} {r.up}", f"{r.label}: {r.help}") for r in SETTING_ROWS]
    return own + list(APP_KEYS)


def vanish_options(s: Settings) -> dict[str, Any]:
    """The keyword arguments of ``percgrad.vanish`` for this screen."""
    residual, norm = catalog.arch_fields(s.arch)
    options: dict[str, Any] = {
        "depth": s.depth, "width": s.width, "activation": s.activation, "init": s.init}
    if s.init == "meanfield":
        options.update(sigma_w2=s.sigma_w2, sigma_b2=s.sigma_b2)
    options.update(gain=s.gain, residual=residual, norm=norm, batch=s.batch, seed=s.seed,
                   loss=s.loss)
    if s.steps:
        options.update(steps=s.steps, lr=s.lr)
    options.update(check=CHECK, device=DEVICE, bound=False)
    return options


def command_line(s: Settings) -> str:
    """The ``percgrad vanish`` command line that computes this screen's numbers (what equals
    vanish's defaults left out)."""
    options = vanish_options(s)
    bound = options.pop("bound")
    shown = {k: v for k, v in options.items()
             if k not in VANISH_DEFAULTS or VANISH_DEFAULTS[k] != v or k == "sigma_w2"}
    return words("vanish", shown) + ("" if bound else " --no-bound")


def from_options(*, depth: int = 10, width: int = 1, activation: str = "sigmoid",
                 init: str | None = None, sigma_w2: float | None = None,
                 sigma_b2: float | None = None, gain: float = 1.0, residual: bool = False,
                 norm: str = "none", batch: int | None = None, seed: int = 0, loss: str = "mse",
                 lr: float = 0.1) -> Settings:
    """The starting settings from ``vanish``'s options, checked as ``vanish`` checks them
    (a PercgradError names the option)."""
    spec = chain_spec(depth=depth, width=width, activation=activation, init=init,
                      sigma_w2=sigma_w2, sigma_b2=sigma_b2, gain=gain, residual=residual,
                      norm=norm, batch=batch, seed=seed, loss=loss, lr=lr, check=CHECK,
                      device=DEVICE)
    fields = common_fields(activation=activation, init=init, sigma_w2=sigma_w2,
                           sigma_b2=sigma_b2, loss=loss)
    return Settings(depth=depth, width=width, activation=fields["activation"],
                    init=fields["init"], sigma_w2=fields["sigma_w2"], sigma_b2=fields["sigma_b2"],
                    gain=float(gain), arch=catalog.arch_of(spec.norm, bool(residual)),
                    batch=spec.batch, seed=seed, loss=fields["loss"], lr=float(lr))


def value_text(s: Settings, name: str) -> str:
    """A setting's value as the controls panel shows it."""
    if name in ("sigma_w2", "sigma_b2") and s.init != "meanfield":
        return "(init)"
    if name == "steps":
        return f"{s.steps} steps" if s.steps else "at init"
    value = getattr(s, name)
    return f"{value:g}" if isinstance(value, float) else str(value)
