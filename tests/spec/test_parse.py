"""Text the user typed → numbers, rows, sizes and byte counts (spec/parse.py): parsed, never
evaluated, every failure a PercgradError naming the option."""

from __future__ import annotations

import pytest

from percgrad.errors import PercgradError
from percgrad.spec.parse import parse_numbers, parse_rows, parse_size, parse_sizes, strict_int


def test_numbers_rows_and_sizes() -> None:
    assert parse_numbers(" 0.5, -1.2,2e1 ", "--x") == (0.5, -1.2, 20.0)
    assert parse_rows("1,2;3,4", "--x") == ((1.0, 2.0), (3.0, 4.0))
    assert parse_sizes("8, 4", "--hidden") == (8, 4)
    assert parse_sizes(" ", "--hidden") == ()
    assert strict_int(" +7 ", "--seed") == 7


@pytest.mark.parametrize(("text", "size"), [
    ("1000000", 1_000_000), ("2G", 2 * 2**30), ("512M", 512 * 2**20), ("1.5GB", int(1.5 * 2**30)),
    ("4 kib", 4 * 2**10),
])
def test_sizes_in_bytes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(("call", "option"), [
    (lambda: parse_numbers("1,,2", "--x"), "--x"),
    (lambda: parse_numbers("1,__import__('os')", "--w"), "--w"),
    (lambda: parse_numbers("inf", "--x"), "--x"),
    (lambda: parse_rows("1,2;3", "--x"), "--x"),
    (lambda: parse_sizes("8,0", "--hidden"), "--hidden"),
    (lambda: parse_sizes("٣", "--hidden"), "--hidden"),
    (lambda: strict_int("1_000", "--seed"), "--seed"),
    (lambda: strict_int("9" * 30, "--seed"), "--seed"),
    (lambda: parse_size("lots"), "--max-memory"),
    (lambda: parse_size("0"), "--max-memory"),
])
def test_refusals_name_the_option(call, option: str) -> None:
    with pytest.raises(PercgradError) as err:
        call()
    assert err.value.option == option
