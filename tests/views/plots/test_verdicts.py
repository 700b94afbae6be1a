"""The verdict lines of the plots (views/plots/verdicts.py): the words the tables use, the
check's line for every state, and the symbols in mathtext."""

from __future__ import annotations

from percgrad.reports.run import CheckReport, FlowSummary
from percgrad.reports.user import Diagnosis, GradCheck
from percgrad.views.plots import verdicts


def _summary(diagnosis: str, share: float | None, layers: list[int] | None = None) -> FlowSummary:
    return FlowSummary(None, None, None, None, None, diagnosis, "vanishing", None,
                       first_share=share, verdict_layers=layers or [])


def test_flow_in_the_tables_words() -> None:
    assert verdicts.word("signal-lost") == "SIGNAL LOST"
    assert verdicts.flow(_summary("vanishing", 3e-5)) == (
        r"VANISHING: first/last $\Vert\partial E/\partial W\Vert$ = 3.0e-05")
    assert verdicts.flow(_summary("dead", None, list(range(1, 9)))) == \
        "DEAD (layers 1, 2, 3, 4, 5, 6, …)"


def test_the_check_of_a_run_in_every_state() -> None:
    def check(**fields: object) -> CheckReport:
        return CheckReport(**{"method": "full", "tolerance": 1e-3, "max_rel_error": 2e-7,
                              "passed": True, **fields})

    assert verdicts.run_check(check(), "float32") == (
        "pass", "check PASS: max relative error 2.0e-07 ≤ 0.001 (float32)")
    word, line = verdicts.run_check(check(passed=False, max_rel_error=0.9,
                                          mistake="forget-dphi"), "float64")
    assert word == "fail" and line.endswith("(float64), as --mistake forget-dphi planted")
    assert verdicts.run_check(check(vacuous=True), "float32")[0] == "vacuous"
    assert verdicts.run_check(check(method="off", passed=None), "float32")[0] == "off"
    assert verdicts.run_check(check(passed=None), "float32")[1].startswith("check n/a")


def test_the_check_and_diagnosis_of_user_code() -> None:
    off = GradCheck("off", 1e-6, None, None, reason="off")
    assert verdicts.user_check(off) == ("off", "check off (--check off)")
    passed = GradCheck("full", 1e-6, True, 3e-10)
    assert verdicts.user_check(passed)[1] == "check PASS: max relative error 3.0e-10 ≤ 1.0e-06"
    d = Diagnosis(["vanishing"], "vanishing", 1.6e-8, 0.1, 10.0,
                  weight_layers=[f"fc{i}" for i in range(1, 11)],
                  concerned=[f"fc{i}" for i in range(1, 9)])
    words, line = verdicts.diagnosis(d)
    assert words == ["vanishing"]
    assert line.startswith(r"VANISHING: first/last weight layer's $\Vert\partial E/\partial W\Vert$"
                           " = 1.6e-08 (on the trend of 10 weight layers)")
    assert line.endswith("it concerns fc1, fc2, fc3, fc4, … (8)")
    healthy = Diagnosis([], "stable", 0.9, 0.1, 10.0)
    assert verdicts.diagnosis(healthy) == (["stable"], "STABLE")
