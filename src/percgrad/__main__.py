"""Entry point of ``python -m percgrad`` and of the ``percgrad`` console script: Ctrl-C is handled
before the CLI is even imported."""

from percgrad.cli import interrupt

interrupt.install()

from percgrad.cli.app import main  # noqa: E402  (after the handler: a Ctrl-C while importing is quiet)

if __name__ == "__main__":
    main()
