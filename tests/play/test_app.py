"""``percgrad play`` driven by Textual's pilot (play/app.py, play/render.py): keys change the
settings, the screen shows the numbers ``percgrad.vanish`` computes for them, ``s`` saves an
SVG whose printed command line reproduces them, ``q`` exits 0."""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path

import pytest
from textual.filter import Monochrome
from typer.testing import CliRunner

import percgrad
from percgrad.cli.app import app as cli
from percgrad.play import render
from percgrad.play.app import PlayApp
from percgrad.play.pages import Page
from percgrad.play.state import Play, Settings, command_line, press, vanish_options
from percgrad.play.widgets import Bars, PlaneView
from percgrad.reports.numbers import num
from percgrad.theory.phase import critical_sigma_w2


def bar_rows(text: str) -> dict[int, tuple[str, str]]:
    """Layer → (‖∂E/∂W‖, ‖δ‖) as the screen prints them."""
    rows = {}
    for line in text.splitlines():
        if "▕" in line:
            words = line.split("▕", 1)[1].split()
            if len(words) >= 4 and words[0].isdigit():
                rows[int(words[0])] = (words[1], words[3])
    return rows


def agrees(text: str, settings: Settings) -> int:
    """How many layer rows the screen shows, each checked against percgrad.vanish."""
    report = percgrad.vanish(**vanish_options(settings))
    rows = bar_rows(text)
    assert rows
    for k, (grad, delta) in rows.items():
        layer = report.layers[k - 1]
        assert (grad, delta) == (num(layer.grad_norm, 3), num(layer.delta_norm, 3)), k
    assert report.summary is not None
    assert report.summary.diagnosis.upper() in text
    return len(rows)


def test_the_screen_shows_vanishs_numbers_at_80x24(settle) -> None:
    async def run() -> None:
        app = PlayApp(Settings(depth=20))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            text = render.screen_text(app)
            assert 8 <= agrees(text, app.play.settings) < 20  # both ends, evenly spaced
            assert command_line(app.play.settings) in text.replace("\n ", " ")
            assert all(len(line) <= 80 for line in text.splitlines()) and len(text.splitlines()) == 24
            assert "q quit" in text.splitlines()[-1]

    asyncio.run(run())


def test_keys_change_the_settings_and_the_numbers_follow(settle) -> None:
    async def run() -> None:
        start = Settings(depth=10, width=4, activation="tanh")
        app = PlayApp(start)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            expected = Play(start)
            for key in ("D", "a", "V", "r", "down", "right", "c"):
                implied = app.frame.sigma_w2 if app.frame else None
                await pilot.press(key)
                expected = press(expected, key, implied)
                await settle(pilot)
            assert app.play == expected
            s = app.play.settings
            assert (s.depth, s.activation, s.init, s.seed, s.width, s.arch) == \
                (12, "relu", "meanfield", 1, 8, "residual")
            assert agrees(render.screen_text(app), s) == 12  # every layer at 120×40
            assert app.latencies and max(app.latencies) < 5

    asyncio.run(run())


def test_s_saves_an_svg_whose_command_line_reproduces_the_screen(settle, tmp_path: Path) -> None:
    async def run() -> None:
        app = PlayApp(Settings(depth=8, width=16, activation="tanh", init="meanfield", sigma_w2=1.2,
                               sigma_b2=0.05, seed=3), save_dir=tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await pilot.pause()
            screen = bar_rows(render.screen_text(app))
        (svg, line), = app.saved
        assert Path(svg) == tmp_path / "percgrad-play-1.svg"
        assert Path(svg).read_text(encoding="utf-8").lstrip().startswith("<svg")
        assert bar_rows((tmp_path / "percgrad-play-1.txt").read_text(encoding="utf-8")) == screen
        words = shlex.split(line)
        result = CliRunner().invoke(cli, [*words[1:], "--json"])
        assert result.exit_code == 0, result.output
        layers = json.loads(result.output)["layers"]
        assert {k: (num(layers[k - 1]["grad_norm"], 3), num(layers[k - 1]["delta_norm"], 3))
                for k in screen} == screen
        assert render.next_path(tmp_path) == tmp_path / "percgrad-play-2.svg"

    asyncio.run(run())


def test_q_exits_with_status_0(settle) -> None:
    async def run() -> None:
        app = PlayApp(Settings(depth=3))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("q")
            await pilot.pause()
        assert app.return_code == 0

    asyncio.run(run())


def test_e_opens_the_explain_page_of_the_line_under_the_cursor(settle) -> None:
    async def run() -> None:
        app = PlayApp(Settings(depth=3, activation="relu"))
        async with app.run_test(size=(100, 40)) as pilot:
            await settle(pilot)
            for _ in range(5):
                await pilot.press("down")  # φ: relu's flat side is the dead-units page
            await pilot.press("e")
            await settle(pilot)
            assert isinstance(app.screen, Page)
            assert "percgrad explain dead-units" in render.screen_text(app)
            await pilot.press("escape")
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, Page) and "σ_w²" in render.screen_text(app)
            await pilot.press("question_mark")
            await pilot.pause()
            assert not isinstance(app.screen, Page)

    asyncio.run(run())


def test_x_puts_the_chain_on_the_critical_line(settle) -> None:
    async def run() -> None:
        app = PlayApp(Settings(depth=6, width=8, activation="tanh", init="meanfield", sigma_b2=0.05))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("x")
            await settle(pilot)
            expected = round(critical_sigma_w2("tanh", 0.05) or 0.0, 4)
            assert app.play.settings.sigma_w2 == expected and app.play.settings.sigma_b2 == 0.05
            point = app.query_one(PlaneView).point
            assert point is not None and point[0] == pytest.approx(expected)

    asyncio.run(run())


def test_t_trains_and_the_bars_end_at_the_last_step(settle) -> None:
    async def run() -> None:
        app = PlayApp(Settings(depth=5, width=8, activation="tanh"))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("t")
            await settle(pilot)
            shown = app.query_one(Bars).shown
            assert shown is not None and "step 20 of 20" in shown.title
            history = percgrad.vanish(**vanish_options(app.play.settings)).history
            assert history is not None and shown.grad == history[-1].grad_norm

    asyncio.run(run())


def test_a_refused_setting_says_why_and_the_next_key_recovers(settle) -> None:
    async def run() -> None:
        app = PlayApp(Settings(depth=4, loss="bce"))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("a")  # tanh: bce needs outputs in (0, 1)
            await settle(pilot)
            assert "Error: --loss" in render.screen_text(app)
            await pilot.press("A")
            await settle(pilot)
            assert "Error" not in render.screen_text(app) and app.frame is not None
            assert app.frame.settings.activation == "sigmoid"

    asyncio.run(run())


def test_no_color_is_honoured(settle, monkeypatch: pytest.MonkeyPatch) -> None:
    async def run() -> None:
        monkeypatch.setenv("NO_COLOR", "1")
        app = PlayApp(Settings(depth=3))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.no_color and any(isinstance(f, Monochrome) for f in app._filters)

    asyncio.run(run())
