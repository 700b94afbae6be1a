"""One seed, many streams: the seed of stream ``salt`` drawn from ``--seed``, always one that
torch.Generator.manual_seed takes (0 to 2**64−1), whatever the seed (2**63−1 included)."""

from __future__ import annotations

SEED_RANGE = 2**64
"""torch.Generator.manual_seed takes 0 … 2**64−1."""


def stream_seed(seed: int, salt: int = 0) -> int:
    """``seed * 1_000_003 + salt``, reduced into torch's range (unchanged for everyday seeds)."""
    return (seed * 1_000_003 + salt) % SEED_RANGE
