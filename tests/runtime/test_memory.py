"""The size guard's arithmetic (runtime/memory.py): the estimate of a run's bytes, in words, and
the refusal of a run that does not fit."""

from __future__ import annotations

import pytest

from percgrad.errors import PercgradError
from percgrad.runtime.memory import PER_LAYER, estimate, guard, human
from percgrad.spec.run import Spec


def _chain(width: int, depth: int, **fields: object) -> Spec:
    return Spec("vanish", (width,) * (depth + 1), device="cpu", **fields)  # type: ignore[arg-type]


def test_the_estimate_grows_with_the_network_and_counts_each_part() -> None:
    small, wide = estimate(_chain(8, 4)), estimate(_chain(64, 4))
    assert wide.weights == 64 * 64 * small.weights // (8 * 8)  # n_params: W only, no bias
    assert wide.total > small.total
    assert small.overhead == 4 * PER_LAYER
    assert estimate(_chain(8, 4, dtype="float64")).weights == 2 * small.weights
    assert estimate(_chain(8, 4, check="off")).check == 0 < small.check
    assert small.total == sum((small.weights, small.activations, small.gradients, small.check,
                               small.report, small.overhead))


def test_bytes_in_words() -> None:
    assert human(512) == "512 B"
    assert human(1536) == "1.5 kB"
    assert human(3 * 2**30) == "3 GB"


@pytest.mark.parametrize(("n", "words"), [
    (1023, "1,023 B"),
    (999.5 * 2**10, "1,000 kB"),        # was "1e+03 kB"
    (1023.5 * 2**20, "1,024 MB"),       # was "1.02e+03 MB"
    (1023.9 * 2**20, "1,024 MB"),
    (99.96 * 2**20, "100 MB"),
    (2**30, "1 GB"),
    (2**40, "1 TB"),
    (2**50 - 1, "1,024 TB"),
    (2**50, "1 PB"),
    (3000 * 2**50, "3,000 PB"),
])
def test_bytes_in_words_at_the_unit_boundaries_never_in_scientific_notation(
        n: float, words: str) -> None:
    assert human(n) == words
    assert "e+" not in human(n)


def test_a_run_over_the_limit_is_refused_with_its_parts() -> None:
    spec = _chain(256, 20)
    guard(spec, available=None, limit=None, where="cpu")  # nothing known: nothing refused
    guard(spec, available=10**12, limit=None, where="cpu")
    with pytest.raises(PercgradError, match=r"--max-memory is 1 kB.*--depth, --width"):
        guard(spec, available=10**12, limit=1024, where="cpu")
    with pytest.raises(PercgradError, match="is free on cpu"):
        guard(spec, available=1000, limit=None, where="cpu")


def test_a_refused_inspect_says_what_would_fit() -> None:
    from percgrad.runtime.memory import guard_floor, model_floor

    def refusal(entries: int, params: int, method: str, limit: int) -> str:
        with pytest.raises(PercgradError) as info:
            guard_floor(model_floor(entries, params, 4, method), None, limit, "cpu",
                        "--input-shape (or --data), --check off", "--input-shape")
        return str(info.value)

    big_input = refusal(10**8, 1000, "fast", 10**9)  # the inputs are what does not fit
    most = int(big_input.split("inputs of at most ")[1].split(" ")[0].replace(",", ""))
    assert 0 < most < 10**8 and "--check off" not in big_input.split("within")[1]
    assert sum(v for _, v in model_floor(most, 1000, 4, "fast")) <= 10**9
    assert sum(v for _, v in model_floor(most + 1, 1000, 4, "fast")) > 10**9
    resnet = refusal(2 * 3 * 64 * 64, 11_689_512, "fast", 300 * 2**20)  # its copies do not fit
    assert "within 300 MB: --check off (at least about 134 MB)" in resnet
    assert "--check fast" in refusal(10, 10**6, "full", 70 * 10**6)
    assert "nothing would: the parameters alone need at least about 134 MB" in \
        refusal(2 * 3 * 64 * 64, 11_689_512, "fast", 50 * 2**20)
    both = refusal(10**8, 1000, "full", 2 * 10**9)
    assert "inputs of at most" in both and "or --check off" in both


def test_the_check_floor_counts_the_float64_copies_of_the_parameters_it_holds() -> None:
    from percgrad.runtime.memory import CHECK_CHUNK, FULL_LADDER, model_floor

    params = 10**7
    fast = dict(model_floor(0, params, 4, "fast"))["numeric check"]
    assert fast == params * 8 * 4 + CHECK_CHUNK  # the copy, its gradient, θ, the directions
    full = dict(model_floor(0, params, 4, "full"))["numeric check"]
    assert full == params * (8 * 3 + FULL_LADDER) + CHECK_CHUNK  # no directions: the ladder
