"""percgrad: a command-line gradient explorer for perceptrons."""

__version__ = "0.1.0"
