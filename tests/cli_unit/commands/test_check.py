"""``percgrad check`` declared (cli/commands/check.py): its options' defaults are the API's, and
its plot."""

from __future__ import annotations

from pathlib import Path

import torch

import percgrad
from percgrad import api
from percgrad.cli.commands import check
from signature_util import OUTPUT_ONLY, defaults


def test_the_options_defaults_are_the_apis() -> None:
    cli, python = defaults(check.check_command), defaults(api.check)
    shared = set(cli) - OUTPUT_ONLY - {"target"}
    assert shared == {"shapes", "check", "tolerance", "seed", "dtype", "max_memory"} and shared <= set(python)
    assert {k: cli[k] for k in shared} == {k: python[k] for k in shared}


def test_the_plot_is_written(tmp_path: Path) -> None:
    report = percgrad.check(torch.sin, torch.linspace(-1, 1, 5, dtype=torch.float64), check="full")
    check.plot(report, tmp_path / "c.svg")
    assert (tmp_path / "c.svg").read_text(encoding="utf-8").startswith("<?xml")
