"""Choosing the device (runtime/device.py): names resolved or refused naming --device, the dtype
checked, and what the report says about the machine."""

from __future__ import annotations

import pytest
import torch

from percgrad.errors import PercgradError
from percgrad.runtime.device import (
    DTYPES,
    available_bytes,
    check_dtype,
    device_info,
    resolve_device,
)


def test_cpu_and_auto_resolve() -> None:
    assert resolve_device(" CPU ") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert {"float32": torch.float32, "float64": torch.float64} == DTYPES


@pytest.mark.parametrize("name", ["tpu", "cuda:x", "cuda:99"])
def test_a_device_that_is_not_there_is_refused(name: str) -> None:
    with pytest.raises(PercgradError) as err:
        resolve_device(name)
    assert err.value.option == "--device"
    assert "cpu" in err.value.message  # what is available


def test_the_cpu_holds_both_dtypes_and_says_what_it_is() -> None:
    cpu = torch.device("cpu")
    for dtype in DTYPES.values():
        check_dtype(cpu, dtype)
    info = device_info(cpu)
    assert info["type"] == "cpu" and info["name"].strip()
    free = available_bytes(cpu)
    assert free is None or free > 0
