"""The weight init schemes: names, aliases and what each draws."""

from __future__ import annotations

from dataclasses import dataclass

from percgrad.catalog.names import resolve


@dataclass(frozen=True)
class InitInfo:
    """One weight init scheme."""

    name: str
    aliases: tuple[str, ...]
    description: str


INITS: dict[str, InitInfo] = {
    i.name: i
    for i in (
        InitInfo("normal", ("randn", "gaussian", "standard"), "N(0, gain²), as torch.randn"),
        InitInfo("pytorch", ("torch", "nn.linear", "uniform"), "U(±gain/√fan_in), as nn.Linear"),
        InitInfo("xavier", ("glorot", "xavier-normal", "glorot-normal"),
                 "Glorot normal: N(0, gain²·2/(fan_in+fan_out))"),
        InitInfo("kaiming", ("he", "kaiming-normal", "he-normal", "msra"),
                 "He normal: N(0, (gain·calculate_gain(φ))²/fan_in)"),
        InitInfo("orthogonal", ("ortho", "orth"), "a random orthogonal matrix times gain"),
        InitInfo("meanfield", ("mean-field", "mf", "sigma"),
                 "W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²) from --sigma-w2 and --sigma-b2"),
    )
}

INIT_NAMES = tuple(INITS)


def init_name(text: str, option: str = "--init") -> str:
    """The init ``text`` names."""
    return resolve(text, {n: i.aliases for n, i in INITS.items()}, option)
