"""Data files read as data only (engines/data_files.py): arrays and CSV read back; a pickled
file, an empty array and a renamed file refused with the file and the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from percgrad.engines.data_files import read_data, read_targets
from percgrad.errors import PercgradError


def test_an_npz_gives_its_inputs_and_targets(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((4, 3), dtype=np.float32), y=np.arange(4))
    x, y = read_data(path)
    assert tuple(x.shape) == (4, 3) and y is not None and y.tolist() == [0, 1, 2, 3]


def test_a_csv_with_a_bom_names_its_column(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("\ufeffa,b,y\n1,2,0\n3,4,1\n", encoding="utf-8")
    x, y = read_data(path, target_column="y")
    assert tuple(x.shape) == (2, 2) and y is not None and y.tolist() == [0.0, 1.0]


@pytest.mark.parametrize("kind", ["pickled", "empty", "renamed"])
def test_files_that_are_not_plain_data_are_refused_by_name(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "t.npy"
    if kind == "pickled":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif kind == "empty":
        np.save(path, np.zeros((0,)))
    else:
        np.savez(tmp_path / "t.npz", y=np.ones(3))
        (tmp_path / "t.npz").rename(path)
    with pytest.raises(PercgradError) as err:
        read_targets(path)
    assert err.value.option == "--targets" and "t.npy" in str(err.value)
