"""The one domain exception; the CLI turns it into a message and exit status 2."""

from __future__ import annotations


class PercgradError(Exception):
    """Bad input or an impossible request, named by the option it comes from."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.option = option

    def __str__(self) -> str:
        return f"{self.option}: {self.message}" if self.option else self.message
