"""``percgrad inspect`` declared (cli/commands/inspect.py): its options' defaults are the API's,
and its plot."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import percgrad
from percgrad import api
from percgrad.cli.commands import inspect
from signature_util import OUTPUT_ONLY, defaults


def test_the_options_defaults_are_the_apis() -> None:
    cli, python = defaults(inspect.inspect_command), defaults(api.inspect)
    shared = set(cli) - OUTPUT_ONLY - {"target"}
    assert {"input_shape", "data", "loss", "train", "steps", "lr", "check", "seed"} <= shared
    assert shared <= set(python)
    assert {k: cli[k] for k in shared} == {k: python[k] for k in shared}


def test_the_plot_is_written(tmp_path: Path) -> None:
    torch.manual_seed(0)
    report = percgrad.inspect(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)),
                              torch.randn(4, 2), check="off")
    inspect.plot(report, tmp_path / "i.svg")
    assert (tmp_path / "i.svg").read_text(encoding="utf-8").startswith("<?xml")
