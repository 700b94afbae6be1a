"""The layer kinds a chain is made of, and the architectures they make: torch-free facts.

A layer kind is one entry of ``NORMS`` (what the user types and reads: names, help, formula,
legend, parameters per unit, the narrowest width it works at) plus one class in
``percgrad/network/layers/`` registered under the same name (the mathematics: init, forward,
hand-derived backward, Jacobian, mean-field map). A skip connection (``--residual``) wraps any
kind. Nothing else names a kind: spec, theory, the engines and the views read these entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from percgrad.catalog.names import resolve

LN_EPS = 1e-5
"""ε of layer norm, as torch.nn.LayerNorm: LN(a) = (a − mean(a)) / √(var(a) + ε)."""


@dataclass(frozen=True)
class NormInfo:
    """One layer kind, as ``--norm`` names it."""

    name: str
    """What ``--norm`` takes."""
    aliases: tuple[str, ...]
    arch: str
    """Its architecture's name without a skip (plain, layernorm …)."""
    arch_aliases: tuple[str, ...]
    residual_aliases: tuple[str, ...]
    """Other names of the architecture with a skip connection."""
    adjective: str
    """How the title describes a chain of it ('' for plain): "a residual, layer-normed chain"."""
    wraps: str
    """φ's input in formulas, with {} for the affine map: "LN({})"."""
    help: str
    """Its part of ``--norm``'s help."""
    legend: str
    """Theory's factor per layer, as the flow table's legend states it."""
    residual_legend: str
    """The same with a skip connection."""
    params: tuple[str, ...] = ()
    """Its parameters per unit beyond W and b (layer norm's γ, β)."""
    min_width: int = 1
    """Narrower layers are refused …"""
    width_reason: str = ""
    """… for this reason (formatted with {width})."""


NORMS: dict[str, NormInfo] = {
    n.name: n
    for n in (
        NormInfo(
            "none", ("off", "plain", "dense"), "plain", ("dense", "mlp"), ("resnet", "skip"), "", "{}",
            "none", "predicted `χ_k = σ_w²·E[φ′(h)²]`, `h ~ N(0, q_k)`",
            "predicted `χ_k = (r_k/r_k+1)·(1 + σ_w²·r_k+1)`, `r_k = E[φ′(h)²]`, "
            "`h ~ N(0, q_k)` (about `1 + σ_w²·E[φ′²]`: the skip adds 1)"),
        NormInfo(
            "layer", ("ln", "layernorm", "layer-norm"), "layernorm", ("ln", "layer-norm", "norm"),
            ("residual+layernorm", "both", "resnet-ln", "pre-ln"), "layer-normed", "LN({})",
            "layer: h_k = φ(LN(a_k)) with γ, β as parameters",
            "predicted `χ_k = σ_w²·r_k`, `r_k ≈ E[φ′(z)²]/q_k`, `z ~ N(0, 1)` (the norm "
            "divides δ by the spread `√q_k` of a)",
            "predicted `χ_k = (r_k/r_k+1)·(1 + σ_w²·r_k+1)`, `r_k ≈ E[φ′(z)²]/q_k`, `z ~ N(0, 1)`",
            params=("γ", "β"), min_width=3,
            width_reason="layer norm over {width} unit(s) gives a constant (0 for one unit, ±1 for "
                         "two), so no gradient passes it; it needs layers of width 3 or more"),
    )
}


def norm_name(text: str, option: str = "--norm") -> str:
    """The layer kind ``text`` names."""
    return resolve(text, {n: info.aliases for n, info in NORMS.items()}, option)


def arch_of(norm: str, residual: bool) -> str:
    """The architecture of a chain of ``norm`` layers, with or without skip connections."""
    base = NORMS[norm].arch
    if not residual:
        return base
    return "residual" if base == "plain" else f"residual-{base}"


def archs() -> tuple[str, ...]:
    """Every architecture: each layer kind without, then with, a skip connection."""
    return tuple(arch_of(n, residual) for n in NORMS for residual in (False, True))


def arch_fields(arch: str) -> tuple[bool, str]:
    """(residual, norm) of an architecture."""
    for norm in NORMS:
        for residual in (False, True):
            if arch_of(norm, residual) == arch:
                return residual, norm
    raise KeyError(arch)


def arch_name(text: str, option: str = "--compare-arch") -> str:
    """The chain architecture ``text`` names."""
    names = {}
    for n, info in NORMS.items():
        names[arch_of(n, False)] = info.arch_aliases
        names[arch_of(n, True)] = info.residual_aliases
    return resolve(text, {a: names[a] for a in archs()}, option)


def describe(norm: str, residual: bool) -> str:
    """The chain in words: "a chain", "a residual, layer-normed chain"."""
    words = [w for w in ("residual" if residual else "", NORMS[norm].adjective) if w]
    return f"a {', '.join(words)} chain" if words else "a chain"


def legend(norm: str, residual: bool) -> str:
    """Theory's factor per layer, as the flow table's legend states it."""
    info = NORMS[norm]
    return info.residual_legend if residual else info.legend
