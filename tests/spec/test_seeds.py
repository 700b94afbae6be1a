"""One seed, many streams (spec/seeds.py): every stream's seed in torch's range, everyday seeds
unchanged but for the salt."""

from __future__ import annotations

import torch

from percgrad.spec.run import MAX_SEED
from percgrad.spec.seeds import SEED_RANGE, stream_seed


def test_stream_seeds_are_distinct_and_in_torchs_range() -> None:
    assert stream_seed(0) == 0 and stream_seed(0, 77) == 77
    assert stream_seed(3, 1) == 3 * 1_000_003 + 1
    assert len({stream_seed(s, salt) for s in range(20) for salt in range(5)}) == 100
    for seed in (MAX_SEED, -1, 2**70):
        value = stream_seed(seed, 5)
        assert 0 <= value < SEED_RANGE
        torch.Generator().manual_seed(value)  # accepted
