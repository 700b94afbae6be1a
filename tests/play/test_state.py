"""play's settings and keys (play/state.py, pure Python) and its command (cli/commands/play.py):
each key's change, and a command line that the CLI's ``vanish`` parses back to the same run."""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from percgrad import catalog
from percgrad.cli.app import app
from percgrad.cli.commands import play as play_command
from percgrad.cli.commands import vanish as vanish_command
from percgrad.errors import PercgradError
from percgrad.play import state
from percgrad.play.state import (
    KEYS,
    ROWS,
    SETTING_ROWS,
    Play,
    Settings,
    change,
    command_line,
    from_options,
    press,
    vanish_options,
)
from percgrad.spec.build import chain_spec, common_fields
from signature_util import defaults


def _keys(play: Play, *keys: str, implied: float | None = None) -> Play:
    for key in keys:
        play = press(play, key, implied)
    return play


def test_depth_and_width_climb_their_ladders_and_stop_at_the_ends() -> None:
    p = _keys(Play(), "D", "D", "w", "W", "W")
    assert (p.settings.depth, p.settings.width) == (15, 4)
    assert _keys(Play(Settings(depth=1)), "d").settings.depth == 1
    assert _keys(Play(Settings(depth=7)), "D").settings.depth == 8  # off the ladder: the next
    assert _keys(Play(Settings(width=2048)), "W").settings.width == 2048


def test_sigma_keys_switch_to_meanfield_from_the_sigma_the_init_implied() -> None:
    p = _keys(Play(Settings(activation="relu", init="kaiming")), "V", implied=2.0)
    assert (p.settings.init, p.settings.sigma_w2, p.settings.sigma_b2) == ("meanfield", 2.1, 0.0)
    p = _keys(Play(Settings(init="xavier")), "B", implied=1.0)
    assert (p.settings.init, p.settings.sigma_w2, p.settings.sigma_b2) == ("meanfield", 1.0, 0.01)
    p = _keys(Play(Settings(init="meanfield", sigma_w2=1.0)), "v", "v", "b", "B", "B")
    assert (p.settings.sigma_w2, p.settings.sigma_b2) == (0.8, 0.02)
    assert _keys(Play(Settings(init="meanfield", sigma_w2=0.1)), "v").settings.sigma_w2 == 0.1


def test_cycles_wrap_around_both_ways() -> None:
    names = catalog.ACTIVATION_NAMES
    p = _keys(Play(), *["a"] * len(names))
    assert p.settings.activation == "sigmoid"
    assert _keys(Play(), "A").settings.activation == names[-1]
    assert _keys(Play(), "i").settings.init == list(catalog.INITS)[1]
    assert [_keys(Play(), *["c"] * n).settings.arch for n in range(4)] == list(catalog.archs())
    assert _keys(Play(), "g", "G", "G").settings.gain == 1.1


def test_r_draws_new_weights_and_t_trains_from_them() -> None:
    p = _keys(Play(), "r", "r", "t", "t")
    assert (p.settings.seed, p.settings.steps) == (2, 2 * state.TRAIN_STEPS)
    assert _keys(p, "T").settings.steps == 0
    assert _keys(p, "D").settings.steps == 0  # any other change starts from init again
    assert _keys(Play(), "R").settings.seed == 0


def test_the_cursor_moves_round_and_arrows_change_what_it_is_on() -> None:
    p = _keys(Play(), "up")
    assert p.cursor == len(ROWS) - 1 and p.row.down is None
    assert _keys(p, "right").settings == Settings()  # a reading: nothing to change
    p = _keys(Play(), "down", "right", "right", "j", "k", "left")
    assert p.settings.width == 2 and p.cursor == 1
    assert _keys(Play(), "z", "escape") == Play()


def test_every_setting_row_has_its_own_keys_and_an_explain_topic() -> None:
    topics = {"delta", "chain-rule", "chi", "saturation", "dead-units", "init", "residual", "check"}
    assert all(r.topic in topics for r in ROWS)
    assert {k for r in SETTING_ROWS for k in (r.down, r.up)} == set(KEYS)
    listed = " ".join(k for k, _ in state.key_table())
    assert all(k in listed.split() for k in KEYS) and "q" in listed and "?" in listed
    with pytest.raises(KeyError):
        change(Settings(), "nothing", 1)


def _parsed(line: str) -> dict[str, Any]:
    """The keyword arguments of percgrad.vanish that the CLI's vanish makes of ``line``."""
    words = shlex.split(line)
    assert words[:2] == ["percgrad", "vanish"]
    group = typer.main.get_command(app)
    command = group.get_command(group.make_context("percgrad", ["vanish"]), "vanish")
    params = command.make_context("vanish", words[2:]).params
    cli = {k: (v.value if hasattr(v, "value") else v) for k, v in params.items()}
    return {**defaults(vanish_command.vanish), **cli}


SETTINGS = [
    Settings(),
    Settings(depth=30, width=64, activation="tanh", init="meanfield", sigma_w2=1.7512,
             sigma_b2=0.05, gain=1.1, batch=4, seed=3, arch="residual-layernorm"),
    Settings(width=4, activation="relu", init="kaiming", arch="layernorm", steps=40, lr=0.05),
    Settings(activation="sigmoid", loss="bce", init="orthogonal", seed=2**40),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_the_command_line_parses_back_to_the_same_run(settings: Settings) -> None:
    line = command_line(settings)
    parsed = _parsed(line)
    keywords = set(defaults(chain_spec)) | set(defaults(common_fields))
    assert chain_spec(**{k: v for k, v in parsed.items() if k in keywords}) == \
        chain_spec(**vanish_options(settings)), line
    assert parsed["bound"] is False and "--check fast" in line and "--device cpu" in line


def test_the_command_line_leaves_out_vanishs_defaults() -> None:
    assert command_line(Settings()) == "percgrad vanish --check fast --device cpu --no-bound"
    vanish = defaults(vanish_command.vanish)
    assert {k: vanish[k] if vanish[k] is not None else v for k, v in state.VANISH_DEFAULTS.items()
            if k not in ("init", "batch", "sigma_b2")} == {
        k: v for k, v in state.VANISH_DEFAULTS.items() if k not in ("init", "batch", "sigma_b2")}


def test_from_options_reads_vanishs_options_as_vanish_does() -> None:
    s = from_options(depth=30, width=8, activation="Tanh", sigma_w2=1.5, residual=True,
                     norm="layer")
    assert (s.activation, s.init, s.sigma_w2, s.arch) == ("tanh", "meanfield", 1.5,
                                                         "residual-layernorm")
    assert from_options().batch == 1
    with pytest.raises(PercgradError, match="--depth"):
        from_options(depth=0)
    with pytest.raises(PercgradError, match="--sigma-w2"):
        from_options(init="xavier", sigma_w2=2.0)


def test_play_starts_from_vanishs_options_with_vanishs_defaults() -> None:
    play_defaults = defaults(play_command.play)
    vanish = defaults(vanish_command.vanish)
    for key in ("depth", "activation", "init", "sigma_w2", "sigma_b2", "gain",
                "residual", "norm", "batch", "seed", "loss", "lr"):
        assert play_defaults[key] == vanish[key], key
    # but wide: vanish starts from the tutorial's chain of single neurons, play from a width
    # where the mean-field lines it draws hold
    assert vanish["width"] == 1 and play_defaults["width"] == 64


def test_play_without_a_terminal_says_so_and_prints_the_vanish_line() -> None:
    result = CliRunner().invoke(app, ["play", "--depth", "5", "--activation", "tanh"])
    assert result.exit_code == 2
    assert "needs a terminal" in result.output
    assert "percgrad vanish --depth 5 --width 64 --activation tanh" in result.output.replace(
        "\n", " ")
    bad = CliRunner().invoke(app, ["play", "--depth", "0"])
    assert bad.exit_code == 2 and "--depth" in bad.output


def test_value_text_shows_what_the_init_decides() -> None:
    s = Settings()
    assert state.value_text(s, "sigma_w2") == "(init)" and state.value_text(s, "steps") == "at init"
    s = dataclasses.replace(s, init="meanfield", sigma_w2=1.25, steps=20)
    assert state.value_text(s, "sigma_w2") == "1.25" and state.value_text(s, "steps") == "20 steps"
    assert state.on_critical_line(dataclasses.replace(s, gain=2.0), 1.23456789).sigma_w2 == 0.3086


def test_a_layer_norm_keeps_the_width_it_needs() -> None:
    p = _keys(Play(), "c", "c")
    assert (p.settings.arch, p.settings.width) == ("layernorm", 4)
    assert _keys(p, "w", "w").settings.width == 4
    assert _keys(Play(Settings(width=64)), "c", "c").settings.width == 64
