"""What ``percgrad inspect`` and ``percgrad check`` found, as plain data (no torch, no Rich),
and their JSON documents (their schema numbers are in reports/json.py)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from percgrad.reports.display import Displayable
from percgrad.reports.json import SCHEMAS, dumps, timings
from percgrad.reports.user_sentences import (
    check_sentence,
    diagnosis_sentences,
    localisation_sentence,
    note_sentence,
)


@dataclass(frozen=True)
class Step:
    """One rung of the step ladder: ε and the central difference D(ε) taken with it."""

    eps: float
    value: float


@dataclass
class Entry:
    """The entry of a compared tensor that disagrees most."""

    name: str
    """``x[2,3]``, ``hidden.weight[3,1]``; for a random direction ``u2``."""
    index: tuple[int, ...]
    analytic: float
    numeric: float
    rel_error: float
    ladder: list[Step] = field(default_factory=list)
    """D(ε) at every step tried for this entry, largest step first."""
    settled: int | None = None
    """Index in ``ladder`` of the step kept: the one that agreed with autograd at once, or the
    larger step of the pair that settled it (None: a kink)."""
    agreed: bool = False
    """The first step agreed with autograd at once: no further step was needed."""


@dataclass
class GroupCheck:
    """One tensor (an input of a function, a parameter or input of a module) against its
    finite differences, for one output."""

    name: str
    shape: tuple[int, ...]
    output: int | None
    """0-based output of the function compared (None when it has one)."""
    rel_error: float | None
    """max|a−n| / max(max|a|, max|n|, floor) over the entries judged; None: none judged."""
    max_abs_diff: float | None
    analytic_norm: float
    numeric_norm: float | None
    worst: Entry | None
    kinks: int = 0
    unsettled: int = 0
    judged: int = 0
    """Entries (full) or directions (fast) that entered the comparison."""
    passed: bool | None = None
    float64_rel_error: float | None = None
    """With float32 analytic gradients: the float64 ones' error, when that one matches (the gap
    is then float32 round-off)."""


@dataclass
class GradCheck:
    """A gradient check: autograd against float64 central differences of one objective."""

    method: str
    """full (every entry), fast (random directions) or off."""
    tolerance: float
    passed: bool | None
    """None: the check does not apply (see ``reason``)."""
    max_rel_error: float | None
    groups: list[GroupCheck] = field(default_factory=list)
    kinks: int = 0
    unsettled: int = 0
    evaluation: str = ""
    """How the perturbed rows were evaluated: vmap (stacked through torch.func.vmap) or loop
    (one call each)."""
    evaluations: int = 0
    stacked: int = 0
    """Evaluations made through vmap (the others one call each)."""
    vectorises: bool | None = None
    """Whether torch.func.vmap batches the function (None: not tried, too few rows)."""
    steps: list[float] = field(default_factory=list)
    resolution: float | None = None
    reason: str | None = None
    """Why it does not apply: nondeterministic, nonfinite, float64-unavailable, no-parameters,
    empty (no entries to check or no output), vacuous (every gradient exactly 0), constant-loss
    (inspect: the loss does not depend on the parameters, so the check compared round-off),
    interrupted (Ctrl-C before it ended)."""
    detail: str | None = None
    """The figures or message behind ``reason``."""
    @property
    def zero(self) -> list[str]:
        """Tensors whose gradient is exactly 0 by autograd and by the differences alike (nothing
        flows back to them): they agree with any backward, so they test nothing."""
        return [g.name for g in self.groups
                if g.judged and g.analytic_norm == 0.0 and not g.max_abs_diff]

    @property
    def worst(self) -> GroupCheck | None:
        """The group that disagrees most (among the failed ones, when some failed)."""
        judged = [g for g in self.groups if g.rel_error is not None]
        failed = [g for g in judged if g.passed is False]
        pool = failed or judged
        return max(pool, key=lambda g: g.rel_error or 0.0) if pool else None


@dataclass
class Note:
    """Something the reader needs to know to trust the numbers (its sentence: reports/user_sentences)."""

    kind: str
    """eval-copy, random-targets, random-inputs, first-output, small-batch, kwargs-constant,
    nonfinite-input, not-called, training-stopped, local-none, in-container, unused."""
    modules: tuple[str, ...] = ()
    value: float | None = None
    text: str = ""


# ------------------------------------------------------------------- check


class _Document(Displayable):
    """What both reports share: the exit status of their check and the document as a dict."""

    check: GradCheck

    @property
    def failed(self) -> bool:
        """True when the gradient check failed (the CLI exits 1)."""
        return self.check.passed is False

    def to_json(self, timing: bool = False) -> str:
        """The JSON document as text."""
        raise NotImplementedError

    def to_dict(self, timing: bool = False) -> dict[str, Any]:
        """The JSON document as a dict."""
        return json.loads(self.to_json(timing))


@dataclass
class FunctionCheckReport(_Document):
    """``percgrad check``: a function of tensors, its autograd gradient and its differences."""

    target: str
    function: str
    inputs: list[tuple[str, tuple[int, ...]]]
    outputs: list[tuple[int, ...]]
    settings: dict[str, Any]
    check: GradCheck
    notes: list[Note] = field(default_factory=list)
    values: list[dict[str, Any]] = field(default_factory=list)
    """Per group (input, output): analytic and numeric entries (small inputs only; for --plot)."""
    timing: dict[str, float] = field(default_factory=dict)
    version: str = ""
    command: str = "check"

    def to_json(self, timing: bool = False) -> str:
        """The JSON document as text (timings null unless ``timing``)."""
        doc = {
            "schema": SCHEMAS[self.command], "command": self.command, "version": self.version,
            "target": self.target, "function": self.function, "settings": self.settings,
            "inputs": [{"name": n, "shape": list(s)} for n, s in self.inputs],
            "outputs": [list(s) for s in self.outputs],
            "check": check_document(self.check),
            "values": self.values,
            **notes_document(self.notes),
            "timing": timings(self.timing, timing),
        }
        return dumps(doc)



# ------------------------------------------------------------------- inspect


@dataclass
class ModuleStats:
    """One module of the model, from a forward and backward pass with hooks: every leaf module
    that ran, and every module (containers and the root included) that registers parameters of
    its own; each parameter of the model is in exactly one row."""

    name: str
    """Its path in the container tree (``features.0``)."""
    type: str
    params: int
    weight_norm: float | None
    """‖W‖ over the module's own parameters (weight and bias)."""
    grad_norm: float | None
    """‖∂E/∂W‖ over the same, from their ``.grad`` after the backward (every use counted); the
    frozen and unused ones left out (None: none has a gradient)."""
    output_grad_norm: float | None
    """‖∂E/∂output‖ from a hook on its output."""
    dead: float | None = None
    """ReLU: share of its units that are 0 for every sample of the batch."""
    saturated: float | None = None
    """sigmoid/tanh: share of its outputs with |φ′| below 10% of its maximum."""
    finite_forward: bool = True
    finite_backward: bool = True
    weight_layer: bool = False
    """Holds a weight of 2 or more dimensions: one of the layers of the flow diagnosis."""
    factor: float | None = None
    """‖∂E/∂out_k‖² / ‖∂E/∂out_k+1‖² to the next weight layer (the measured factor of vanish)."""
    local: GradCheck | None = None
    """Its own gradient check, when the model's check failed and it was localised."""
    parameters: list[str] = field(default_factory=list)
    """The full names of the parameters this row holds (each parameter in one row only)."""
    also: list[str] = field(default_factory=list)
    """Other names of the same parameters (tied weights, reached through another module)."""
    frozen: bool = False
    """Every parameter it holds has requires_grad=False (left out of the flow diagnosis)."""
    unused: list[str] = field(default_factory=list)
    """Its parameters that require a gradient but got none in the backward pass."""
    ran: bool = True
    """It was called as a module in the forward pass (a container, or a module whose weights
    are used by another's code, e.g. MultiheadAttention's out_proj, may not be)."""


BORDERLINE = 2.0
"""A flow share within this factor of its threshold is called near it."""


@dataclass
class Diagnosis:
    """What the gradient does in the model, by the rule of ``vanish`` (theory.flow.judge) over
    its weight layers."""

    kinds: list[str]
    """non-finite, constant-loss, zero-weight, vanishing, exploding or dead; empty when
    healthy."""
    flow: str
    """The rule's verdict: vanishing, exploding, stable, dead, non-finite or undetermined."""
    share: float | None
    """‖∂E/∂W‖ of the first weight layer as a share of the last's, read off the robust trend
    over every weight layer (theory.flow.trend_share)."""
    vanishing: float
    exploding: float
    """The shares below / above which the rule says vanishing / exploding."""
    mean_factor: float | None = None
    """Geometric mean of the measured factors ‖∂E/∂out_k‖²/‖∂E/∂out_k+1‖²."""
    weight_layers: list[str] = field(default_factory=list)
    concerned: list[str] = field(default_factory=list)
    """The layers the verdict concerns: the dead ones, or the weight layers whose own share of
    the last's gradient is past the threshold."""
    dead_layers: list[str] = field(default_factory=list)
    first_nonfinite_forward: str | None = None
    first_nonfinite_backward: str | None = None
    backward_from_loss: bool = False
    """The backward pass was non-finite from its start (the loss or the output gradient)."""
    forward_input_nonfinite: bool = False
    """The first module with a non-finite output already had a non-finite input."""
    cause: str | None = None
    """Why: constant-loss: ``softmax-sum`` (a softmax-normalised output summed) or None
    (not known). In the JSON document only when set."""
    module: str | None = None
    module_type: str | None = None
    """zero-weight: the module (path, type) whose all-zero weight blocks the gradient. In the
    JSON document only when set."""
    end_share: float | None = None
    """The first weight layer's measured ‖∂E/∂W‖ as a share of the last's (the two ends)."""
    off_trend: list[str] = field(default_factory=list)
    """Weight layers whose ‖∂E/∂W‖ is more than OFF_TREND times off the trend."""
    types: dict[str, str] = field(default_factory=dict)
    """The type of every module the diagnosis names (path → class name)."""
    batch: int | None = None
    """Samples the dead shares were measured on."""

    @property
    def borderline(self) -> bool:
        """The share is within a factor of BORDERLINE of a threshold: another batch (or other
        random targets) may well land on the other side."""
        if self.share is None or self.share <= 0:
            return False
        return any(edge / BORDERLINE <= self.share <= edge * BORDERLINE
                   for edge in (self.vanishing, self.exploding))

    @property
    def healthy(self) -> bool:
        """No finding."""
        return not self.kinds


@dataclass
class Localisation:
    """Where the model's failed check comes from: the first module whose own backward
    disagrees with its own finite differences."""

    module: str | None
    type: str | None
    check: GradCheck | None
    checked: list[str] = field(default_factory=list)
    """Modules checked, in forward order."""
    container: bool = False
    """The module named is a container whose children all pass: the mistake is in its own code."""


@dataclass
class HistoryStep:
    """One SGD step of --steps."""

    step: int
    loss: float
    grad_norms: list[float | None]
    output_grad_norms: list[float | None]


@dataclass
class InspectReport(_Document):
    """``percgrad inspect``: a user's model, module by module, and its gradient check."""

    target: str
    model: str
    settings: dict[str, Any]
    device: dict[str, str]
    input_shapes: list[tuple[int, ...]]
    output_shape: tuple[int, ...] | None
    loss: float
    params: int
    modules: list[ModuleStats]
    diagnosis: Diagnosis
    check: GradCheck
    localisation: Localisation | None = None
    history: list[HistoryStep] | None = None
    notes: list[Note] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    version: str = ""
    interrupted: bool = False
    """Ctrl-C stopped the run before it ended: what was measured is kept (the CLI exits 130)."""
    command: str = "inspect"

    def to_json(self, timing: bool = False) -> str:
        """The JSON document as text (timings null unless ``timing``)."""
        doc = {
            "schema": SCHEMAS[self.command], "command": self.command, "version": self.version,
            "target": self.target, "model": self.model, "settings": self.settings,
            "device": self.device, "input_shapes": [list(s) for s in self.input_shapes],
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "loss": self.loss, "params": self.params,
            "modules": [_module_document(m) for m in self.modules],
            "diagnosis": _diagnosis_document(self.diagnosis),
            "check": check_document(self.check),
            "localisation": None if self.localisation is None else {
                "module": self.localisation.module, "type": self.localisation.type,
                "container": self.localisation.container, "checked": self.localisation.checked,
                "check": None if self.localisation.check is None
                else check_document(self.localisation.check),
                "sentence": localisation_sentence(self.localisation),
            },
            "history": None if self.history is None else [dataclasses.asdict(h) for h in self.history],
            **notes_document(self.notes),
            "interrupted": self.interrupted,
            "timing": timings(self.timing, timing),
        }
        return dumps(doc)



def _diagnosis_document(d: Diagnosis) -> dict[str, Any]:
    """The diagnosis as a dict; cause, module and module_type only when set (a healthy or flow
    diagnosis keeps the keys it had)."""
    doc = dataclasses.asdict(d)
    for key in ("cause", "module", "module_type"):
        if doc[key] is None:
            del doc[key]
    return {**doc, "healthy": d.healthy, "borderline": d.borderline,
            "sentences": diagnosis_sentences(d)}


def _module_document(m: ModuleStats) -> dict[str, Any]:
    doc = dataclasses.asdict(m)
    doc["local"] = None if m.local is None else check_document(m.local)
    return doc


def check_document(check: GradCheck) -> dict[str, Any]:
    """A GradCheck in the JSON document, with its verdict as a sentence."""
    doc = dataclasses.asdict(check)
    doc["zero"] = check.zero
    doc["sentence"] = check_sentence(check)
    return doc


def notes_document(notes: list[Note]) -> dict[str, Any]:
    """The notes as sentences and as records."""
    return {"notes": [note_sentence(n) for n in notes],
            "note_records": [dataclasses.asdict(n) for n in notes]}
