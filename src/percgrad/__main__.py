"""Entry point for ``python -m percgrad``."""

from percgrad.cli.app import main

if __name__ == "__main__":
    main()
