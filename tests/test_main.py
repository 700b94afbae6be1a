"""``python -m percgrad`` (percgrad/__main__.py): Ctrl-C handled before the CLI is imported, then
the console script's main."""

from __future__ import annotations

import importlib
import signal
import sys

from percgrad.cli import interrupt
from percgrad.cli.app import main


def test_python_m_installs_the_ctrl_c_handler_and_runs_the_console_scripts_main() -> None:
    handler, state = signal.getsignal(signal.SIGINT), dict(interrupt._state)
    interrupt._state["installed"] = False
    try:
        if "percgrad.__main__" in sys.modules:
            entry = importlib.reload(sys.modules["percgrad.__main__"])
        else:
            entry = importlib.import_module("percgrad.__main__")
        assert entry.main is main  # imported, not run: main() runs under __name__ == "__main__"
        assert interrupt._state["installed"] or handler is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, handler)
        interrupt._state.update(state)
