"""One engine per command: a spec in, a plain report out."""
