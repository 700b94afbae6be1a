"""``percgrad multi`` declared (cli/commands/multi.py): its options' defaults are the spec's."""

from __future__ import annotations

from percgrad.cli.commands import multi
from percgrad.spec.build import common_fields, multi_spec
from signature_util import OUTPUT_ONLY, defaults


def test_the_options_defaults_are_the_specs() -> None:
    cli = defaults(multi.multi)
    spec = {**defaults(common_fields), **defaults(multi_spec)}
    assert set(cli) - OUTPUT_ONLY == set(spec)
    assert float(cli.pop("target")) == spec.pop("target")
    assert {k: cli[k] for k in spec} == spec
    assert (cli["outputs"], cli["hidden"]) == (4, "")
