"""The pages ``percgrad play`` opens over its screen: the key table (``?``) and an ``explain``
page (``e``). Esc, q or the page's own key closes them."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from percgrad.play.state import key_table

PAGE_CSS = """
Page { align: center middle; }
Page > VerticalScroll { width: 100%; max-width: 104; height: auto; max-height: 100%;
                        background: $surface; }
Page > VerticalScroll.-framed { border: round $accent; padding: 0 1; }
Page Static { width: 100%; }
"""


class Page(ModalScreen[None]):
    """A page over the screen, closed by Esc, q or the key that opened it."""

    DEFAULT_CSS = PAGE_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "close"), Binding("q", "close", "close", show=False),
    ]

    def __init__(self, body: Any, key: str, framed: bool = True) -> None:
        super().__init__()
        self.body = body
        self.key = key
        self.framed = framed

    def compose(self) -> ComposeResult:
        """The body, scrollable when it is taller than the terminal."""
        with VerticalScroll(classes="-framed" if self.framed else ""):
            yield Static(self.body, id="page")

    def on_mount(self) -> None:
        """The page's own key closes it too."""
        self._bindings.bind(self.key, "close", "close", show=False)

    def action_close(self) -> None:
        """Back to the playground."""
        self.dismiss(None)


def help_body() -> Content:
    """The key table."""
    rows = key_table()
    wide = max(len(k) for k, _ in rows)
    lines = [Content.styled("percgrad play: keys", "bold")]
    lines += [Content.assemble((f"{k:<{wide}}", "bold"), f"  {what}") for k, what in rows]
    lines.append(Content.styled("Every change recomputes the chain as percgrad vanish would: "
                                "first the bars, then the verdict, the tried advice and the "
                                "check. Esc closes this page.", "dim"))
    return Content("\n").join(lines)


def help_page() -> Page:
    """``?``: the key table."""
    return Page(help_body(), "question_mark")


def explain_page(renderable: Any) -> Page:
    """``e``: a page of ``percgrad explain`` (views/explain.py's renderable: it has its frame)."""
    return Page(renderable, "e", framed=False)
