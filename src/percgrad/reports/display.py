"""The one lazy hook from reports up to views: ``rich.print(report)`` and a Jupyter cell's display.

Reports are plain data and import no Rich; a report shown in a terminal or a notebook asks
``percgrad.views.show`` for its renderables at that moment. This is the only import from a lower
layer to a higher one (the import-linter contract in pyproject.toml names it).
"""

from __future__ import annotations

from typing import Any


class Displayable:
    """A report that Rich and Jupyter can display."""

    def __rich__(self) -> Any:
        """What the CLI prints, for ``rich.print(report)``."""
        from percgrad.views.show import renderables

        return renderables(self)

    def _repr_html_(self) -> str:
        """The same, as HTML, for a Jupyter cell."""
        from percgrad.views.show import to_html

        return to_html(self)
