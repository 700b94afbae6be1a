"""The user's code as a guest (engines/user_code.py, engines/model_check.py): BaseExceptions
named, later errors told from percgrad's own, the process's global settings saved and put
back, --seed before the user's code, models inspect cannot run refused, and shared parameters
checked without torch.func."""

from __future__ import annotations

import random
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from percgrad.engines.model_check import restored, shares_parameters
from percgrad.engines.user_code import (
    GlobalState,
    _is_guest_frame,
    check_usable,
    from_guest,
    guest_errors,
    guest_run,
    hosted,
    load,
    loaded_state,
    seed_everything,
)
from percgrad.errors import PercgradError


def _module(tmp_path: Path, source: str, name: str = "guest_mod.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_hosted_names_an_exit_and_a_base_exception_and_lets_ctrl_c_through() -> None:
    with pytest.raises(PercgradError, match=r"TARGET: running it called sys.exit\(4\)"), \
            hosted("running it"):
        sys.exit(4)

    class Stop(BaseException):
        pass

    with pytest.raises(PercgradError, match="Stop: halt"), hosted("running it"):
        raise Stop("halt")
    with pytest.raises(KeyboardInterrupt), hosted("running it"):
        raise KeyboardInterrupt
    # an ordinary exception is for the caller to word
    with pytest.raises(ValueError), hosted("running it"):
        raise ValueError("plain")


def test_a_later_error_is_the_users_only_when_it_went_through_their_code(tmp_path: Path) -> None:
    path = _module(tmp_path, """
        def fails(x):
            raise RuntimeError("mine")
    """)
    fails = load(f"{path}:fails")
    words = r"TARGET: later, it raised RuntimeError: mine \(guest_mod.py, line 3\)"
    with pytest.raises(PercgradError, match=words), guest_errors("later, it"):
        fails(1)
    # frames of percgrad, torch and the standard library are not the user's
    import json

    import percgrad.engines.inspect as percgrad_file

    assert not _is_guest_frame(percgrad_file.__file__)
    assert not _is_guest_frame(torch.__file__) and not _is_guest_frame(json.__file__)
    assert _is_guest_frame(str(path)) and not _is_guest_frame("<string>")
    try:
        fails(1)
    except RuntimeError as exc:
        assert from_guest(exc)


def test_the_global_settings_are_put_back_and_what_changed_is_told() -> None:
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    np_state = np.random.get_state()[1][:4].copy()
    py_state = random.getstate()
    with guest_run(seed=5):
        before = GlobalState.now()
        torch.set_grad_enabled(False)
        torch.set_default_dtype(torch.float64)
        torch.manual_seed(99)
        notes = loaded_state(before, 5)
        assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32
        np.random.rand(5)
        random.random()
    assert {n.kind for n in notes} == {"grad-mode", "default-dtype", "reseeded"}
    assert torch.equal(torch.rand(3), expected)  # the caller's stream goes on as before
    assert (np.random.get_state()[1][:4] == np_state).all()
    assert random.getstate() == py_state


def test_the_global_settings_are_put_back_after_an_error_too() -> None:
    with pytest.raises(PercgradError), guest_run(seed=0):
        torch.set_grad_enabled(False)
        torch.set_default_dtype(torch.float64)
        sys.exit(1)
    assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32


def test_seeding_comes_before_the_users_code() -> None:
    seed_everything(3)
    a = (torch.rand(2), np.random.rand(), random.random())
    seed_everything(3)
    assert torch.equal(a[0], torch.rand(2)) and a[1] == np.random.rand() and a[2] == random.random()
    seed_everything(-(2**63 - 1))  # any seed the CLI takes


def test_a_model_without_values_or_hooks_is_refused() -> None:
    with torch.device("meta"):
        meta = nn.Linear(3, 1)
    with pytest.raises(PercgradError, match="meta device"):
        check_usable(meta, "m")
    with pytest.raises(PercgradError, match="TorchScript"):
        check_usable(torch.jit.script(nn.Linear(3, 1)), "m")
    check_usable(nn.Linear(3, 1), "m")


def test_shared_parameters_are_seen_and_restored_in_place() -> None:
    layer = nn.Linear(3, 3)
    model = nn.Sequential(layer, nn.Tanh(), layer)
    assert shares_parameters(model) and not shares_parameters(nn.Sequential(nn.Linear(3, 3)))
    weight = layer.weight
    saved = weight.detach().clone()
    with restored(model):
        with torch.no_grad():
            weight.add_(1.0)
        model[2]._parameters["weight"] = torch.zeros(3, 3)  # what a functional call can leave
    assert model[2].weight is weight and model[0].weight is weight
    assert torch.equal(weight.detach(), saved)
