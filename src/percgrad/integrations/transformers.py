"""``percgrad watch`` for a Hugging Face ``Trainer``: ``Trainer(…, callbacks=[trainer_callback()])``;
after ``trainer.train()`` the callback's ``report`` holds the WatchReport. The Trainer steps its
optimizer through torch, so the recorder's global optimizer hooks see every step."""

from __future__ import annotations

import importlib
from typing import Any

from percgrad.api import watch


def trainer_callback(every: int | None = None, locate: bool = True) -> Any:
    """A TrainerCallback that watches the model from the start of training to its end."""
    try:
        base = importlib.import_module("transformers").TrainerCallback
    except ImportError:
        raise ImportError("percgrad's Trainer callback needs transformers: pip install "
                          "transformers") from None

    class PercgradWatch(base):  # type: ignore[misc, valid-type]
        """Watches the Trainer's model (percgrad.watch), its report kept as ``report``."""

        def __init__(self) -> None:
            self.recorder: Any = None
            self.report: Any = None

        def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                           **kwargs: Any) -> None:
            if model is not None:
                self.recorder = watch(model, every=every, locate=locate)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.recorder is not None:
                self.recorder.close()
                self.report = self.recorder.report()

    return PercgradWatch()
