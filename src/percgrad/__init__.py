"""percgrad: a command-line gradient explorer for perceptrons.

``percgrad.single``, ``percgrad.multi`` and ``percgrad.vanish`` run the CLI's commands from Python
and return a Report (``.to_dict()``, ``.to_json()``, ``rich.print(report)``, Jupyter display);
``percgrad.inspect(model, inputs)`` and ``percgrad.check(fn, *inputs)`` do the same for the
user's own model and the user's own backward; ``percgrad.phase`` and ``percgrad.explain`` for the
phase diagram and a topic's worked example.
"""

from __future__ import annotations

from percgrad.errors import PercgradError
from percgrad.version import __version__

TYPE_CHECKING = False  # not typing's: `import percgrad` imports nothing it does not need
if TYPE_CHECKING:
    from typing import Any

    from percgrad.api import check, explain, inspect, multi, phase, single, vanish, watch

__all__ = ["PercgradError", "__version__", "check", "explain", "inspect", "multi", "phase", "single",
           "vanish", "watch"]
_API = ("check", "explain", "inspect", "multi", "phase", "single", "vanish", "watch")


def __getattr__(name: str) -> Any:
    """The API's functions, imported on first use: ``import percgrad`` itself stays instant, so
    that ``python -m percgrad`` handles Ctrl-C before anything heavy is imported."""
    if name in _API:
        import percgrad.api

        value = getattr(percgrad.api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'percgrad' has no attribute {name!r}")
