"""The three examples of ``percgrad watch`` run as scripts (engines/watch/script.py): the step,
module, op and line of the first NaN; vanishing from step 0 with the layers named; the step
where ReLU units die; and how a script's own exit is passed through."""

from __future__ import annotations

from pathlib import Path

import pytest

import percgrad
from percgrad.api import watch_script

EX = Path(__file__).resolve().parents[3] / "examples"


def test_diverge_names_the_step_module_op_and_line_of_the_first_nan() -> None:
    report = watch_script(str(EX / "diverge.py"), ["--steps", "30"])
    n = report.nonfinite
    assert n is not None and (n.step, n.phase, n.module, n.module_type, n.op) == (
        22, "forward", "2", "Gate", "aten.exp")
    assert n.source is not None and n.source.endswith("diverge.py:20")
    assert n.code is not None and n.code.startswith("e = torch.exp(self.proj(h))")
    assert n.value == "inf" and report.exit_code == 0 and report.total_steps == 30
    assert [v.kind for v in report.verdicts if v.kind == "non-finite"] == ["non-finite"]


def test_vanishing_train_is_vanishing_from_step_0_with_its_layers() -> None:
    report = watch_script(str(EX / "vanishing_train.py"), ["--steps", "20"])
    flow = [v for v in report.verdicts if v.kind == "vanishing"]
    assert flow and flow[0].step == 0
    assert flow[0].modules[:3] == ["0", "2", "4"]
    assert flow[0].value is not None and flow[0].value < 1e-3


def test_dying_relu_reports_the_step_the_dead_share_jumps() -> None:
    report = watch_script(str(EX / "dying_relu.py"), ["--steps", "90"])
    dead = [v for v in report.verdicts if v.kind == "dead"]
    assert {(v.step, v.modules[0]) for v in dead} == {(84, "3"), (84, "5")}
    assert all(v.value is not None and v.value >= 0.5 and v.before is not None
               and v.before < 0.1 for v in dead)
    assert report.nonfinite is None


@pytest.mark.parametrize(("body", "code"), [("raise SystemExit(3)", 3), ("import sys; sys.exit()", 0),
                                            ("raise ValueError('boom')", 1)])
def test_the_scripts_own_exit_is_passed_through(tmp_path: Path, body: str, code: int) -> None:
    script = tmp_path / "s.py"
    script.write_text(body + "\n")
    report = watch_script(str(script))
    assert report.exit_code == code
    if code == 1:
        assert "ValueError: boom" in report.notes[0] and "percgrad" not in report.notes[0]


def test_a_missing_script_is_refused() -> None:
    with pytest.raises(percgrad.PercgradError, match="no such file"):
        watch_script("no_such_script.py")
