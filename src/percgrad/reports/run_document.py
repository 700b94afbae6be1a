"""The JSON document of a run's Report: every layer, the check, the warnings as sentences and
as records, and the keys vanish adds (floats at full precision, NaN and ∞ as null)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from percgrad.reports import sentences
from percgrad.reports.json import SCHEMAS, clean, dumps

if TYPE_CHECKING:
    from percgrad.reports.run import CheckReport, LayerReport, Report, Triple


def _triple(t: Triple | None) -> dict[str, Any] | None:
    """Three values of one quantity (None when not kept)."""
    if t is None or (t.analytic is None and t.autograd is None):
        return None
    return {"analytic": t.analytic, "autograd": t.autograd, "numeric": t.numeric,
            "numeric_excluded": t.excluded}


def layer_document(layer: LayerReport) -> dict[str, Any]:
    """One entry of ``layers`` in the JSON document."""
    vs_num = layer.vs_numeric
    return {
        "name": layer.name,
        "shape": list(layer.shape),
        "weight": layer.weight,
        "bias": layer.bias,
        "grad": _triple(layer.grad),
        "bias_grad": _triple(layer.bias_grad),
        "weight_norm": layer.weight_norm,
        "grad_norm": layer.grad_norm,
        "grad_norm_analytic": layer.grad_norm_analytic,
        "grad_norm_numeric": layer.grad_norm_numeric,
        "delta_norm": layer.delta_norm,
        "max_abs_diff": layer.vs_autograd.max_abs_diff,
        "rel_error": layer.vs_autograd.rel_error,
        "worst_entry": layer.vs_autograd.worst,
        "numeric_max_abs_diff": None if vs_num is None else vs_num.max_abs_diff,
        "numeric_rel_error": None if vs_num is None else vs_num.rel_error,
        "numeric_kinks": layer.kinks,
        "numeric_unresolved": layer.unresolved,
        "mean_abs_dphi": layer.mean_abs_dphi,
        "saturated": layer.saturated,
        "dead_units": layer.dead_units,
        "finite": layer.finite,
        "underflow": layer.underflow,
        "measured_factor": layer.measured_factor,
        "predicted_factor": layer.predicted_factor,
        "bound": layer.bound,
        "bound_holds": layer.bound_holds,
        "kind": layer.kind,
        "pre": layer.pre,
        "post": layer.post,
        "delta": layer.delta,
        "dphi": layer.dphi,
        "post_sample": layer.post_sample,
        "params": [{"name": p.name, "value": p.value, "grad": _triple(p.grad)} for p in layer.others],
    }


def _check_document(check: CheckReport) -> dict[str, Any]:
    """The verdict, its failures as sentences and as records."""
    return {
        "method": check.method,
        "tolerance": check.tolerance,
        "max_rel_error": check.max_rel_error,
        "passed": check.passed,
        "failures": [sentences.mismatch(m) for m in check.failures],
        "mismatches": [dataclasses.asdict(m) for m in check.failures],
        "resolution": check.resolution,
        "directions": check.directions,
        "kinks": check.kinks,
        "unresolved": check.unresolved,
        "vacuous": check.vacuous,
        "inconclusive": check.inconclusive,
        "mistake": check.mistake,
    }


def _warnings(report: Report) -> dict[str, Any]:
    """The warnings as sentences and as records."""
    return {"warnings": [sentences.notice(n) for n in report.warnings],
            "notices": [dataclasses.asdict(n) for n in report.warnings]}


def _vanish_document(report: Report) -> dict[str, Any]:
    """The keys vanish adds: theory, summary, history, training, compare, label."""
    doc: dict[str, Any] = {}
    if report.label is not None:
        doc["label"] = report.label
    if report.theory is not None:
        doc["theory"] = dataclasses.asdict(report.theory)
    if report.summary is not None:
        summary = dataclasses.asdict(report.summary)
        summary["advice"] = [sentences.advice(a) for a in report.summary.advice]
        summary["advice_records"] = [dataclasses.asdict(a) for a in report.summary.advice]
        summary["notes"] = [sentences.flow_note(n) for n in report.summary.notes]
        summary["note_kinds"] = list(report.summary.notes)
        doc["summary"] = summary
    if report.history is not None:
        doc["history"] = [dataclasses.asdict(h) for h in report.history]
    if report.training is not None:
        doc["training"] = dataclasses.asdict(report.training)
    if report.compare is not None:
        doc["compare"] = dataclasses.asdict(report.compare)
    if report.spectrum is not None:
        from percgrad.reports.phase import spectrum_document

        doc["spectrum"] = spectrum_document(report.spectrum)
    return doc


def document(report: Report) -> dict[str, Any]:
    """The JSON document of one run, as a dict (see the README for every key)."""
    if report.runs:
        return clean({
            "schema": SCHEMAS[report.command],
            "command": report.command,
            "version": report.version,
            "settings": report.settings,
            "device": report.device,
            **_vanish_document(report),
            "check": _check_document(report.check),
            "runs": [document(r) for r in report.runs],
            **_warnings(report),
        })
    doc: dict[str, Any] = {
        "schema": SCHEMAS[report.command],
        "command": report.command,
        "version": report.version,
        "settings": report.settings,
        "device": report.device,
        "input": report.input,
        "target": report.target,
        "output": report.output,
        "loss": report.loss,
        "finite": report.finite,
        "first_nonfinite": report.first_nonfinite,
        "layers": [layer_document(layer) for layer in report.layers],
        "check": _check_document(report.check),
        "timing": report.timing,
        **_warnings(report),
    }
    doc.update(_vanish_document(report))
    return clean(doc)


def to_json(report: Report, timing: bool = True) -> str:
    """The JSON document as text: floats at full (repr) precision, NaN and ∞ as null; with
    ``timing`` False the timings are null, so that equal runs give identical documents."""
    doc = document(report)
    if not timing:
        for d in [doc, *doc.get("runs", [])]:
            if "timing" in d:
                d["timing"] = {key: None for key in d["timing"]}
    return dumps(doc)
