"""What ``inspect`` and ``check`` found, as plain data (reports/user.py): the worst group, the
exit status, and the JSON document."""

from __future__ import annotations

from percgrad.reports.json import SCHEMAS
from percgrad.reports.user import Entry, FunctionCheckReport, GradCheck, GroupCheck


def _group(name: str, rel: float | None, passed: bool | None) -> GroupCheck:
    worst = None if rel is None else Entry(f"{name}[0]", (0,), 1.0 + rel, 1.0, rel)
    return GroupCheck(name, (3,), None, rel, None, 1.0, 1.0, worst, passed=passed)


def test_the_worst_group_is_a_failed_one_when_any_failed() -> None:
    check = GradCheck("full", 1e-6, False, 0.9,
                      groups=[_group("x", 0.9, True), _group("w", 0.2, False), _group("b", None, None)])
    assert check.worst is not None and check.worst.name == "w"
    assert GradCheck("full", 1e-6, True, 1e-9, groups=[_group("x", 1e-9, True)]).worst.name == "x"  # type: ignore[union-attr]
    assert GradCheck("off", 1e-6, None, None).worst is None


def test_a_check_report_is_a_json_document_with_null_timings() -> None:
    check = GradCheck("full", 1e-6, False, 0.2, groups=[_group("w", 0.2, False)])
    report = FunctionCheckReport("f.py:f", "f", [("w", (3,))], [(1,)], {"method": "full"}, check,
                                 timing={"analytic_s": 0.5}, version="0")
    assert report.failed
    doc = report.to_dict()
    assert doc["schema"] == SCHEMAS["check"] and doc["command"] == "check"
    assert doc["inputs"] == [{"name": "w", "shape": [3]}]
    assert doc["check"]["passed"] is False and "w[0]" in doc["check"]["sentence"]
    assert doc["timing"] == {"analytic_s": None}
    assert report.to_dict(timing=True)["timing"] == {"analytic_s": 0.5}
