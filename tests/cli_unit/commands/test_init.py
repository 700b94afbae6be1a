"""What the commands share (cli/commands/__init__.py): one network run under the progress
display."""

from __future__ import annotations

from percgrad.cli.commands import compute_one
from percgrad.reports.run import Report
from percgrad.spec.build import single_spec


def test_compute_one_runs_the_spec_without_a_display() -> None:
    report = compute_one(single_spec(inputs=2, device="cpu"), False)
    assert isinstance(report, Report)
    assert report.command == "single" and report.layers[0].shape == (1, 2)
    assert report.check.passed is True
