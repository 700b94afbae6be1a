"""percgrad's benchmark suite: ``python -m benchmarks.run`` from the repository root."""
