"""percgrad: a command-line gradient explorer for perceptrons.

``percgrad.single``, ``percgrad.multi`` and ``percgrad.vanish`` run the CLI's commands from Python
and return a Report (``.to_dict()``, ``.to_json()``, ``rich.print(report)``, Jupyter display);
``percgrad.inspect(model, inputs)`` and ``percgrad.check(fn, *inputs)`` do the same for the
user's own model and the user's own backward.
"""

from percgrad.api import check, inspect, multi, single, vanish
from percgrad.errors import PercgradError
from percgrad.version import __version__

__all__ = ["PercgradError", "__version__", "check", "inspect", "multi", "single", "vanish"]
