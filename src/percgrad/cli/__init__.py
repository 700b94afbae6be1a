"""The command line: the Typer app, shared options, output and one module per command."""
