"""``percgrad phase`` declared (cli/commands/phase.py): its options' defaults are the request's,
and its drawing."""

from __future__ import annotations

from pathlib import Path

import percgrad
from percgrad.cli.commands import phase
from percgrad.spec.phase import phase_spec
from signature_util import OUTPUT_ONLY, defaults


def test_the_options_defaults_are_the_requests() -> None:
    cli, request = defaults(phase.phase), defaults(phase_spec)
    shared = set(cli) - OUTPUT_ONLY
    assert shared <= set(request) and {"activation", "sigma_w2", "width", "train_steps"} <= shared
    assert {k: cli[k] for k in shared} == {k: request[k] for k in shared}


def test_the_drawing_is_written(tmp_path: Path) -> None:
    report = percgrad.phase(sigma_w2="1,2", sigma_b2="0", depth=4, width=8, batch=2, device="cpu")
    phase.draw(report, tmp_path / "p.svg")
    assert (tmp_path / "p.svg").read_text(encoding="utf-8").startswith("<?xml")
