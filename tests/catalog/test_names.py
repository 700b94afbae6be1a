"""Names as the user types them (catalog/names.py and each kind's resolver): every alias of
every entry resolves to it, in any case, no alias is shared, a typo is refused with the closest
name, nonsense with every choice."""

from __future__ import annotations

import pytest

from percgrad import catalog
from percgrad.errors import PercgradError
from percgrad.network import functions

# ---------------------------------------------------------------- names


def _kinds():
    """Each kind of name: its resolver and every entry's aliases."""
    arch_aliases: dict[str, tuple[str, ...]] = {}
    for norm, info in catalog.NORMS.items():
        arch_aliases[catalog.arch_of(norm, False)] = info.arch_aliases
        arch_aliases[catalog.arch_of(norm, True)] = info.residual_aliases
    return {
        "activation": (catalog.activation_name, {n: a.aliases for n, a in catalog.ACTIVATIONS.items()},
                       "--activation"),
        "loss": (catalog.loss_name, {n: lo.aliases for n, lo in catalog.LOSSES.items()}, "--loss"),
        "init": (catalog.init_name, {n: i.aliases for n, i in catalog.INITS.items()}, "--init"),
        "arch": (catalog.arch_name, arch_aliases, "--compare-arch"),
        "norm": (catalog.norm_name, {n: info.aliases for n, info in catalog.NORMS.items()}, "--norm"),
    }


KINDS = _kinds()


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_alias_resolves_to_its_entry(kind):
    resolve, entries, _ = KINDS[kind]
    for name, aliases in entries.items():
        for alias in (name, *aliases):
            for spelled in (alias, alias.upper(), alias.title(), f"  {alias} "):
                assert resolve(spelled) == name, (kind, spelled)


@pytest.mark.parametrize("kind", list(KINDS))
def test_no_alias_is_shared_by_two_entries(kind):
    _, entries, _ = KINDS[kind]
    owner: dict[str, str] = {}
    for name, aliases in entries.items():
        for alias in {catalog.names.normal(a) for a in (name, *aliases)}:
            assert alias not in owner, f"{alias!r} names both {owner[alias]} and {name}"
            owner[alias] = name


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ReLU", "relu"), ("Sigmoid", "sigmoid"), ("TANH", "tanh"), ("Leaky_ReLU", "leaky-relu"),
     ("GELU", "gelu"), ("Logistic", "sigmoid"), ("leaky relu", "leaky-relu")],
)
def test_activation_names_are_case_insensitive(text, expected):
    assert catalog.activation_name(text) == expected
    assert functions.activation(text).name == expected


@pytest.mark.parametrize(
    ("kind", "typo", "expected"),
    [("activation", "sigmod", "sigmoid"), ("activation", "tahn", "tanh"),
     ("activation", "rleu", "relu"), ("activation", "sofplus", "softplus"),
     ("init", "kaimnig", "kaiming"), ("init", "xaviar", "xavier"), ("loss", "mes", "mse"),
     ("arch", "residul", "residual")],
)
def test_a_typo_suggests_the_right_name(kind, typo, expected):
    resolve, _, option = KINDS[kind]
    with pytest.raises(PercgradError) as info:
        resolve(typo)
    message = str(info.value)
    assert "did you mean" in message
    assert message.endswith(f"did you mean {expected}?"), message
    assert repr(typo) in message
    assert info.value.option == option


@pytest.mark.parametrize("kind", list(KINDS))
def test_nonsense_names_every_choice_and_suggests_nothing(kind):
    resolve, entries, _ = KINDS[kind]
    with pytest.raises(PercgradError) as info:
        resolve("qqqqqqqq")
    message = str(info.value)
    assert "did you mean" not in message
    for name in entries:
        assert name in message
