"""Thin adapters that watch a framework's training run: Lightning (``lightning_callback``) and
Hugging Face ``Trainer`` (``trainer_callback``). Each imports its framework only when called."""
