"""percgrad: a command-line gradient explorer for perceptrons.

``percgrad.single``, ``percgrad.multi`` and ``percgrad.vanish`` run the CLI's commands from Python
and return a Report (``.to_dict()``, ``.to_json()``, ``rich.print(report)``, Jupyter display);
``percgrad.inspect(model, inputs)`` and ``percgrad.check(fn, *inputs)`` do the same for the
user's own model and the user's own backward; ``percgrad.phase`` and ``percgrad.explain`` for the
phase diagram and a topic's worked example.
"""

from percgrad.api import check, explain, inspect, multi, phase, single, vanish
from percgrad.errors import PercgradError
from percgrad.version import __version__

__all__ = ["PercgradError", "__version__", "check", "explain", "inspect", "multi", "phase", "single",
           "vanish"]
