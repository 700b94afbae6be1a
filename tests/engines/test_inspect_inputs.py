"""Several inputs, keyword inputs, token ids and the choice of output for inspect."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import percgrad
from percgrad.errors import PercgradError


class Masked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(16, 4)

    def forward(self, x, mask):
        return self.a(x * mask)


class Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(16, 4)

    def forward(self, x, *, scale):
        return self.a(x) * scale.mean()


class Tokens(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 6)
        self.out = nn.Linear(6, 3)

    def forward(self, ids):
        return self.out(self.emb(ids))


class Two(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(16, 4)
        self.b = nn.Linear(16, 2)

    def forward(self, x):
        return {"h": self.a(x), "score": self.b(x)}


def test_two_positional_shapes() -> None:
    report = percgrad.inspect(Masked(), input_shape=["8,16", "8,16"], check="off")
    assert report.input_shapes == [(8, 16), (8, 16)]


def test_keyword_shape_for_positional_parameter() -> None:
    report = percgrad.inspect(Masked(), input_shape=["8,16", "mask=8,16"], check="off")
    assert report.input_shapes == [(8, 16), (8, 16)]
    assert report.output_shape == (8, 4)


def test_missing_input_is_refused_with_the_parameters() -> None:
    with pytest.raises(PercgradError) as err:
        percgrad.inspect(Masked(), input_shape="8,16")
    assert err.value.option == "--input-shape"
    assert "forward(x, mask)" in str(err.value)
    assert "--input-shape mask=SHAPE" in str(err.value)


def test_keyword_only_input_in_python() -> None:
    x, s = torch.randn(8, 16), torch.rand(3)
    report = percgrad.inspect(Scaled(), (x,), input_kwargs={"scale": s})
    assert report.check.passed is True
    assert report.input_shapes == [(8, 16), (3,)]


def test_keyword_only_input_by_shape() -> None:
    report = percgrad.inspect(Scaled(), input_shape=["8,16", "scale=3"])
    assert report.check.passed is True


def test_long_token_ids() -> None:
    report = percgrad.inspect(Tokens(), input_shape="4,5:long")
    assert report.input_shapes == [(4, 5)]
    assert report.output_shape == (4, 5, 3)
    assert report.check.passed is True


def test_long_without_embedding_is_refused() -> None:
    with pytest.raises(PercgradError, match="--data"):
        percgrad.inspect(Masked(), input_shape=["8,16:long", "8,16"])


def test_dict_without_logits_takes_the_first_and_says_so() -> None:
    report = percgrad.inspect(Two(), input_shape="8,16", check="off")
    assert report.output_shape == (8, 4)
    note = next(n for n in report.notes if n.kind == "first-output")
    assert "'h'" in note.text and "'score'" in note.text


def test_output_chooses_the_key() -> None:
    report = percgrad.inspect(Two(), input_shape="8,16", output="score")
    assert report.output_shape == (8, 2)
    assert report.check.passed is True


def test_unknown_output_is_refused() -> None:
    with pytest.raises(PercgradError) as err:
        percgrad.inspect(Two(), input_shape="8,16", output="nope")
    assert err.value.option == "--output"
    assert "h, score" in str(err.value)
