"""``percgrad single`` declared (cli/commands/single.py): its options' defaults are the spec's."""

from __future__ import annotations

from percgrad.cli.commands import single
from percgrad.spec.build import common_fields, single_spec
from signature_util import OUTPUT_ONLY, defaults


def test_the_options_defaults_are_the_specs() -> None:
    cli = defaults(single.single)
    spec = {**defaults(common_fields), **defaults(single_spec)}
    assert set(cli) - OUTPUT_ONLY == set(spec)
    assert float(cli.pop("target")) == spec.pop("target")
    assert {k: cli[k] for k in spec} == spec
    assert "percgrad single --inputs 3" in single.HELP
