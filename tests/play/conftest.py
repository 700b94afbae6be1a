"""The pilot's helper for play's app tests: wait until every worker has finished and the
training animation has ended (``settle``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

Settle = Callable[[Any], Awaitable[None]]


async def _settle(pilot: Any, timeout_s: float = 20.0) -> None:
    app = pilot.app
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        await pilot.pause(0.02)
        if not app.busy and all(w.is_finished for w in app.workers):
            await pilot.pause()
            return
    raise AssertionError("play did not settle")


@pytest.fixture
def settle() -> Settle:
    """``await settle(pilot)``: the app computed, drew and stopped animating."""
    return _settle
