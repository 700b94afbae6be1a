"""--data FILE.npz with several arrays (engines/user_data.py file_arrays): by the forward's
parameter names, else in order; targets by their name; a file that does not fit the forward
refused with its arrays and the forward's parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import percgrad
from percgrad.engines.user_data import Keywords, file_arrays
from percgrad.errors import PercgradError
from percgrad.reports.user import InspectReport

X = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
MASK = (np.arange(8) % 2).astype(np.float32).reshape(1, 8)  # broadcast: its own shape


class Masked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.l = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.l(x * mask)


def _expected_loss(model: Masked) -> float:
    with torch.no_grad():
        return float(model.l(torch.from_numpy(X) * torch.from_numpy(MASK)).sum())


def _inspect(model: nn.Module, path: Path, **arrays: Any) -> InspectReport:
    np.savez(path, **arrays)
    return percgrad.inspect(model, data=str(path), loss="sum", check="off")


@pytest.mark.parametrize("order", [("mask", "x"), ("x", "mask")])
def test_arrays_go_to_the_parameters_of_their_names_in_any_order(
        tmp_path: Path, order: tuple[str, str]) -> None:
    model = Masked()
    values = {"x": X, "mask": MASK}
    report = _inspect(model, tmp_path / "d.npz", **{k: values[k] for k in order})
    assert report.input_shapes == [(4, 8), (1, 8)]
    assert report.loss == pytest.approx(_expected_loss(model), rel=1e-6)
    assert report.settings["targets"] is None


def test_unnamed_arrays_go_in_order(tmp_path: Path) -> None:
    model = Masked()
    np.savez(tmp_path / "d.npz", X, MASK)  # arr_0, arr_1
    report = percgrad.inspect(model, data=str(tmp_path / "d.npz"), loss="sum", check="off")
    assert report.input_shapes == [(4, 8), (1, 8)]
    assert report.loss == pytest.approx(_expected_loss(model), rel=1e-6)


def test_savez_names_go_by_their_number() -> None:
    arrays = {f"arr_{k}": torch.full((2,), float(k)) for k in (10, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9)}

    class Many(nn.Module):
        def forward(self, *xs: torch.Tensor) -> torch.Tensor:
            return torch.stack(xs)

    args, targets = file_arrays(arrays, Path("d.npz"), Many())
    assert [float(a[0]) for a in args] == [float(k) for k in range(11)] and targets is None


def test_targets_are_the_array_named_so_unless_a_parameter_has_the_name(tmp_path: Path) -> None:
    y = np.zeros((4, 3), dtype=np.float32)
    report = _inspect(Masked(), tmp_path / "d.npz", mask=MASK, y=y, x=X)
    assert report.settings["targets"] == "file" and report.input_shapes == [(4, 8), (1, 8)]

    class Timed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.l = nn.Linear(8, 3)

        def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.l(x) * t

    report = _inspect(Timed(), tmp_path / "t.npz", x=X, t=np.ones((4, 1), dtype=np.float32))
    assert report.settings["targets"] is None and report.input_shapes == [(4, 8), (4, 1)]


def test_a_keyword_only_parameter_and_a_boolean_mask(tmp_path: Path) -> None:
    class Filled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.l = nn.Linear(8, 3)

        def forward(self, x: torch.Tensor, *, mask: torch.Tensor) -> torch.Tensor:
            return self.l(x.masked_fill(mask, 0.0))

    report = _inspect(Filled(), tmp_path / "d.npz", mask=MASK.astype(bool), x=X)
    assert report.input_shapes == [(4, 8), (1, 8)]
    args, _ = file_arrays({"x": torch.from_numpy(X), "mask": torch.from_numpy(MASK > 0)},
                          Path("d.npz"), Filled())
    assert isinstance(args[-1], Keywords) and args[-1]["mask"].dtype == torch.bool


@pytest.mark.parametrize(("arrays", "named"), [
    ({"x": X}, ["x", "mask"]),                                     # one missing
    ({"x": X, "mask": MASK, "extra": X}, ["extra", "mask"]),      # one too many
    ({"x": X, "msk": MASK}, ["msk", "mask"]),                      # a name off by a letter
    ({"arr_0": X, "arr_1": MASK, "arr_2": X}, ["arr_2", "mask"]),  # too many in order
    ({"x": X, "mask": MASK, "y": X, "labels": X}, ["y", "labels"]),  # two targets
])
def test_a_file_that_does_not_fit_the_forward_is_refused_naming_both(
        tmp_path: Path, arrays: dict[str, np.ndarray], named: list[str]) -> None:
    with pytest.raises(PercgradError) as err:
        _inspect(Masked(), tmp_path / "d.npz", **arrays)
    assert err.value.option == "--data"
    assert all(name in err.value.message for name in [*arrays, *named, "Masked.forward"])


def test_a_torch_dict_goes_by_name_too(tmp_path: Path) -> None:
    path = tmp_path / "d.pt"
    torch.save({"mask": torch.from_numpy(MASK), "x": torch.from_numpy(X)}, path)
    model = Masked()
    report = percgrad.inspect(model, data=str(path), loss="sum", check="off")
    assert report.loss == pytest.approx(_expected_loss(model), rel=1e-6)


def test_float_token_ids_in_a_file_are_refused_with_the_long_shape(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    with pytest.raises(PercgradError) as err:
        _inspect(model, tmp_path / "d.npz", x=np.ones((2, 3), dtype=np.float32))
    assert err.value.option == "--input-shape" and "2,3:long" in err.value.message
    report = _inspect(model, tmp_path / "i.npz", x=np.ones((2, 3), dtype=np.int32))
    assert report.input_shapes == [(2, 3)]
