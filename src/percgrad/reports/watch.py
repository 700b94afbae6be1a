"""``percgrad watch``: a training run's gradient flow, step by step, as plain data: per module
(every parameter once) ‖∂E/∂W‖, ‖W‖ and the update ratio ‖ΔW‖/‖W‖, per activation its dead or
saturated share, the verdicts over time and where the first non-finite value came from."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from percgrad.reports.display import Displayable
from percgrad.reports.json import SCHEMAS, dumps, timings

DEAD_SHARE = 0.5
"""A ReLU layer is called dying once at least this share of its units is 0 for every sample."""
DEAD_JUMP = 0.25
"""… and that share is at least this much above its share at the first watched step."""
UPDATE_USUAL = 1e-3
"""The usual update ratio ‖ΔW‖/‖W‖ of a healthy learning rate."""
UPDATE_HIGH, UPDATE_LOW = 1e-1, 1e-5
"""An update ratio 100× above or below the usual (the learning rate is then far too high or too
low for that module)."""


@dataclass
class ModuleTrack:
    """One module that owns parameters (each parameter of the watched models in one track)."""

    name: str
    """Its path in the model (``(model)`` for the root), prefixed by the model when several."""
    type: str
    params: int
    parameters: list[str] = field(default_factory=list)
    grad_norm: list[float | None] = field(default_factory=list)
    """‖∂E/∂W‖ at each watched step (None: no gradient that step)."""
    weight_norm: list[float | None] = field(default_factory=list)
    """‖W‖ before the optimizer's step."""
    update_ratio: list[float | None] = field(default_factory=list)
    """‖ΔW‖/‖W‖ of the optimizer's step (None: the step did not change it, or no step)."""
    weight_layer: bool = False
    """Holds a weight of 2 or more dimensions: one of the layers the flow is judged on."""


@dataclass
class ActivationTrack:
    """An activation module whose outputs are visible: its dead (ReLU) or saturated (sigmoid,
    tanh) share at each watched step."""

    name: str
    type: str
    kind: str
    """dead or saturated."""
    share: list[float | None] = field(default_factory=list)


@dataclass
class NonFinite:
    """Where the first non-finite value (NaN or ∞) of the run came from."""

    step: int
    phase: str
    """forward (a module's forward made it), backward (an op of the backward pass), loss (the
    loss, computed outside the watched models), parameters (the weights already were)."""
    module: str | None = None
    module_type: str | None = None
    op: str | None = None
    """The producing op (``aten.log``; in the backward, the autograd node too)."""
    source: str | None = None
    """``file.py:LINE`` of the user's code that ran the op (for the backward: its forward)."""
    code: str | None = None
    """That line's text."""
    value: str | None = None
    """What it produced: nan, inf or -inf."""


@dataclass
class WatchVerdict:
    """One finding over time, with its evidence."""

    kind: str
    """vanishing, exploding, dead, update-high, update-low or non-finite."""
    step: int
    """The first watched step where it holds."""
    modules: list[str] = field(default_factory=list)
    value: float | None = None
    """vanishing/exploding: the first weight layer's ‖∂E/∂W‖ over the last's (on the trend);
    dead: the share; update-*: the module's median ratio."""
    before: float | None = None
    """dead: the share at the first watched step (the jump is from this)."""
    threshold: float | None = None
    through: int | None = None
    """The last watched step where it still holds (None: to the end)."""
    cause: str | None = None
    """update-low: no-gradient when every module's ‖∂E/∂W‖ was 0 on those steps (dead or cut
    off: the learning rate is not the cause), small-gradient when it was below 1e-6 × its
    first recorded value; None: the learning rate."""


@dataclass
class WatchReport(Displayable):
    """Everything ``percgrad watch`` reports about a training run."""

    target: str
    models: list[str]
    every: int
    steps: list[int] = field(default_factory=list)
    """The optimizer steps recorded (0-based)."""
    loss: list[float | None] = field(default_factory=list)
    modules: list[ModuleTrack] = field(default_factory=list)
    activations: list[ActivationTrack] = field(default_factory=list)
    verdicts: list[WatchVerdict] = field(default_factory=list)
    nonfinite: NonFinite | None = None
    total_steps: int = 0
    """Optimizer steps taken by the watched optimizers (watched or not)."""
    exit_code: int | None = None
    """The script's own exit status (None: the Python API, or the script did not exit)."""
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    version: str = ""
    command: str = "watch"

    @property
    def failed(self) -> bool:
        """watch judges no check: its exit status is the script's."""
        return False

    def to_json(self, timing: bool = False) -> str:
        """The JSON document as text (timings null unless ``timing``)."""
        doc: dict[str, Any] = {
            "schema": SCHEMAS[self.command], "command": self.command, "version": self.version,
            "target": self.target, "models": self.models, "every": self.every,
            "total_steps": self.total_steps, "steps": self.steps, "loss": self.loss,
            "modules": [dataclasses.asdict(m) for m in self.modules],
            "activations": [dataclasses.asdict(a) for a in self.activations],
            "verdicts": [dataclasses.asdict(v) for v in self.verdicts],
            "nonfinite": None if self.nonfinite is None else dataclasses.asdict(self.nonfinite),
            "exit_code": self.exit_code, "interrupted": self.interrupted, "notes": self.notes,
            "timing": timings(self.timing, timing),
        }
        return dumps(doc)

    def to_dict(self, timing: bool = False) -> dict[str, Any]:
        """The JSON document as a dict."""
        return json.loads(self.to_json(timing))
