"""``percgrad vanish`` declared (cli/commands/vanish.py): its options' defaults are the spec's,
and its plot."""

from __future__ import annotations

from pathlib import Path

import percgrad
from percgrad.cli.commands import vanish
from percgrad.spec.build import chain_spec, common_fields
from signature_util import OUTPUT_ONLY, defaults

COMPARISONS = {"compare_acts", "compare_inits", "compare_archs"}
"""--compare, --compare-init, --compare-arch: a comparison, not a field of the spec."""


def test_the_options_defaults_are_the_specs() -> None:
    cli = defaults(vanish.vanish)
    spec = {**defaults(common_fields), **defaults(chain_spec)}
    assert set(cli) - OUTPUT_ONLY - COMPARISONS <= set(spec)
    assert float(cli.pop("target")) == spec.pop("target")
    assert {k: spec[k] for k in cli if k in spec} == {k: cli[k] for k in cli if k in spec}
    assert all(cli[k] is None for k in COMPARISONS)


def test_the_plot_is_written(tmp_path: Path) -> None:
    vanish.plot(percgrad.vanish(depth=4, width=4, check="off", device="cpu"), tmp_path / "v.svg")
    assert (tmp_path / "v.svg").read_text(encoding="utf-8").startswith("<?xml")
