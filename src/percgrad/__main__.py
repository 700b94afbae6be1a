"""Entry point for ``python -m percgrad``."""

from percgrad.cli import main

if __name__ == "__main__":
    main()
