"""``percgrad watch``: gradient flow over a user's training run (recorder, producer of the first
non-finite value, verdicts over time, the script runner)."""
