"""``percgrad watch`` for a Lightning run: ``trainer = Trainer(callbacks=[lightning_callback()])``;
after ``trainer.fit(...)`` the callback's ``report`` holds the WatchReport. Lightning steps the
model's optimizers through torch, so the recorder's global optimizer hooks see every step."""

from __future__ import annotations

import importlib
from typing import Any

from percgrad.api import watch


def _callback_base() -> type:
    """Lightning's Callback class (``lightning.pytorch``, else ``pytorch_lightning``)."""
    for name in ("lightning.pytorch", "pytorch_lightning"):
        try:
            return importlib.import_module(name).Callback
        except ImportError:
            continue
    raise ImportError("percgrad's Lightning callback needs Lightning: pip install lightning")


def lightning_callback(every: int | None = None, locate: bool = True) -> Any:
    """A Lightning Callback that watches the LightningModule from fit start to fit end."""
    base = _callback_base()

    class PercgradWatch(base):  # type: ignore[misc, valid-type]
        """Watches the module being fitted (percgrad.watch), its report kept as ``report``."""

        def __init__(self) -> None:
            super().__init__()
            self.recorder: Any = None
            self.report: Any = None

        def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
            self.recorder = watch(pl_module, every=every, locate=locate)

        def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
            if self.recorder is not None:
                self.recorder.close()
                self.report = self.recorder.report()

        def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
            self.on_fit_end(trainer, pl_module)

    return PercgradWatch()
