"""``--log run.jsonl``: one JSON line per watched step as the run goes (a line naming the tracks
first, again whenever a model is added), and ``--replay``: a report rebuilt from such a log."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import IO, Any

from percgrad.engines.watch.verdicts import verdicts
from percgrad.errors import PercgradError
from percgrad.reports.watch import ActivationTrack, ModuleTrack, NonFinite, WatchReport
from percgrad.version import __version__

FORMAT = "percgrad-watch-log"
VERSION = 1


def _number(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


class StepLog:
    """Writes the recorder's steps to a JSON-lines file, flushed after each line."""

    def __init__(self, path: Path, target: str, every: int) -> None:
        try:
            self.file: IO[str] = path.open("w", encoding="utf-8")
        except OSError as exc:
            raise PercgradError(f"cannot write {str(path)!r}: {exc.strerror or exc}", "--log") from None
        self.target, self.every = target, every
        self.tracks: list[str] = []
        self.last = -1
        """The last step written (a run's kept steps may be thinned: indices move, steps not)."""

    def write(self, models: list[str], modules: list[ModuleTrack],
              activations: list[ActivationTrack], steps: list[int],
              loss: list[float | None]) -> None:
        """Every watched step not written yet (and the tracks first, when they changed)."""
        names = [m.name for m in modules] + [a.name for a in activations]
        if names != self.tracks:
            self.tracks = names
            self._line({"format": FORMAT, "version": VERSION, "target": self.target,
                        "every": self.every, "models": models,
                        "modules": [{"name": m.name, "type": m.type, "params": m.params,
                                     "parameters": m.parameters, "weight_layer": m.weight_layer}
                                    for m in modules],
                        "activations": [{"name": a.name, "type": a.type, "kind": a.kind}
                                        for a in activations]})
        for k in (k for k, step in enumerate(steps) if step > self.last):
            self._line({"step": steps[k], "loss": _number(loss[k]),
                        "grad": [_number(m.grad_norm[k]) for m in modules],
                        "weight": [_number(m.weight_norm[k]) for m in modules],
                        "update": [_number(m.update_ratio[k]) for m in modules],
                        "share": [_number(a.share[k]) for a in activations]})
        if steps:
            self.last = max(self.last, steps[-1])

    def finish(self, report: WatchReport) -> None:
        """The last steps and how the run ended (the first non-finite value, the exit code)."""
        self.write(report.models, report.modules, report.activations, report.steps, report.loss)
        self._line({"end": True, "total_steps": report.total_steps, "exit_code": report.exit_code,
                    "interrupted": report.interrupted,
                    "nonfinite": None if report.nonfinite is None else vars(report.nonfinite)})
        self.file.close()

    def _line(self, doc: dict[str, Any]) -> None:
        self.file.write(json.dumps(doc, allow_nan=False) + "\n")
        self.file.flush()


def replay(path: Path) -> WatchReport:
    """A WatchReport from a log written by ``StepLog``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise PercgradError(f"cannot read {str(path)!r}: {exc.strerror or exc}", "--replay") from None
    report: WatchReport | None = None
    modules: dict[str, ModuleTrack] = {}
    acts: dict[str, ActivationTrack] = {}
    order: list[str] = []
    act_order: list[str] = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            raise PercgradError(f"line {number} of {str(path)!r} is not JSON: a watch log is "
                                "written by percgrad watch --log", "--replay") from None
        if "format" in doc:
            if doc.get("format") != FORMAT:
                raise PercgradError(f"{str(path)!r} is not a percgrad watch log", "--replay")
            if report is None:
                report = WatchReport(doc.get("target", ""), doc.get("models", []), doc.get("every", 1),
                                     version=__version__)
            report.models = doc.get("models", report.models)
            steps = len(report.steps)
            order = [m["name"] for m in doc["modules"]]
            act_order = [a["name"] for a in doc["activations"]]
            for m in doc["modules"]:
                modules.setdefault(m["name"], ModuleTrack(
                    m["name"], m["type"], m["params"], m.get("parameters", []),
                    [None] * steps, [None] * steps, [None] * steps, m.get("weight_layer", False)))
            for a in doc["activations"]:
                acts.setdefault(a["name"], ActivationTrack(a["name"], a["type"], a["kind"],
                                                           [None] * steps))
        elif report is None:
            raise PercgradError(f"{str(path)!r} does not start with a watch log's header line",
                                "--replay")
        elif "step" in doc:
            report.steps.append(doc["step"])
            report.loss.append(doc.get("loss"))
            for name, g, w, u in zip(order, doc["grad"], doc["weight"], doc["update"]):
                modules[name].grad_norm.append(g)
                modules[name].weight_norm.append(w)
                modules[name].update_ratio.append(u)
            for name, s in zip(act_order, doc["share"]):
                acts[name].share.append(s)
        elif doc.get("end"):
            report.total_steps = doc.get("total_steps", len(report.steps))
            report.exit_code = doc.get("exit_code")
            report.interrupted = bool(doc.get("interrupted"))
            if doc.get("nonfinite"):
                report.nonfinite = NonFinite(**doc["nonfinite"])
    if report is None:
        raise PercgradError(f"{str(path)!r} holds no watch log (empty)", "--replay")
    report.modules = [modules[n] for n in order]
    report.activations = [acts[n] for n in act_order]
    report.total_steps = report.total_steps or len(report.steps)
    report.verdicts = verdicts(report.modules, report.activations, report.steps, report.nonfinite)
    return report
