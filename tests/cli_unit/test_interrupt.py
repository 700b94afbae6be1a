"""Ctrl-C (cli/interrupt.py): once armed, the first SIGINT raises KeyboardInterrupt so that the
run cleans up; the handler is installed once, and never over an ignored SIGINT."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from percgrad.cli import interrupt


@pytest.fixture
def fresh_state() -> Iterator[None]:
    """The module's state and the process's SIGINT handler as they were, afterwards."""
    handler = signal.getsignal(signal.SIGINT)
    state = dict(interrupt._state)
    interrupt._state.update(installed=False, armed=False, raised=False)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
        interrupt._state.clear()
        interrupt._state.update(state)


def test_armed_the_first_ctrl_c_raises_keyboard_interrupt(fresh_state: None) -> None:
    assert interrupt.EXIT_INTERRUPTED == 130
    interrupt.install()
    handler = signal.getsignal(signal.SIGINT)
    assert callable(handler) and handler is not signal.default_int_handler
    interrupt.install()  # once
    assert signal.getsignal(signal.SIGINT) is handler
    interrupt.arm()
    with pytest.raises(KeyboardInterrupt):
        handler(signal.SIGINT, None)  # type: ignore[operator]
    assert interrupt._state["raised"]
    interrupt.disarm()
    assert not interrupt._state["armed"]


def test_an_ignored_sigint_stays_ignored(fresh_state: None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    interrupt.install()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert not interrupt._state["installed"]
