"""The CLI's options, declared once (cli/options.py): the groups several commands share arrive
as one value, and Common hands the API its keywords."""

from __future__ import annotations

import inspect
from pathlib import Path

from percgrad.cli.choices import CheckName, DtypeName
from percgrad.cli.options import Common, shares_common_options
from percgrad.cli.output import Output
from signature_util import OUTPUT_ONLY, defaults


def test_a_command_sharing_the_common_options_gets_them_as_one_common() -> None:
    got: dict[str, object] = {}

    @shares_common_options
    def command(common: Common, depth: int = 3) -> None:
        got.update(common=common, depth=depth)

    params = list(inspect.signature(command).parameters)
    assert params[0] == "depth" and {"activation", "seed", "json", "max_memory"} <= set(params)
    command(**{**defaults(command), "depth": 5, "activation": "tanh", "json": True})
    common = got["common"]
    assert isinstance(common, Common) and got["depth"] == 5
    assert common.activation == "tanh" and common.output() == Output(json=True)


def test_common_options_are_the_apis_keywords_minus_the_output() -> None:
    fields = {name: None for name in Common.__dataclass_fields__}
    common = Common(**{**fields, "activation": "relu", "dtype": DtypeName.float64,
                       "check": CheckName.fast, "save": Path("x.txt"), "gain": 2.0})
    options = common.options()
    assert set(options) == set(fields) - OUTPUT_ONLY
    assert (options["dtype"], options["check"], options["gain"]) == ("float64", "fast", 2.0)
    assert common.output().save == Path("x.txt")
