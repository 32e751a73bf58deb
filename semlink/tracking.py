"""Experiment tracking, the optional extra ``semlink[tracking]``: TensorBoard during training
(Lightning's :class:`~lightning.pytorch.loggers.TensorBoardLogger`, offline event files in a
folder); MLflow for runs is :mod:`semlink.report.mlflow_log`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import lightning as L
import numpy as np

if TYPE_CHECKING:
    from lightning.pytorch.loggers import TensorBoardLogger

EXTRA = "pip install 'semlink[tracking]'"
"""How to install what tracking needs."""


class TrackingError(ValueError):
    """Tracking cannot start or failed; the message names the thing and the fix in one line."""


# -- TensorBoard during training ----------------------------------------------------------------


def tensorboard_logger(directory: Path, name: str) -> TensorBoardLogger:
    """A TensorBoard logger writing into ``directory/name`` (every leg of a run into one folder).

    :raises TrackingError: when TensorBoard is not installed (naming the extra).
    """
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise TrackingError(f"--tensorboard needs TensorBoard, which is not installed: {EXTRA}") from None
    from lightning.pytorch.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir=str(directory), name=name, version="", default_hp_metric=False)


class TensorBoardTracker(L.Callback):
    """Sends a training leg's losses and learning rate to TensorBoard every ``every`` steps, on the
    run's step axis (so the legs of a resumed run continue one curve), and its scores and sample
    images at the end.

    :param logger: where to write (see :func:`tensorboard_logger`).
    :param offset: steps of earlier legs.
    :param every: steps between points of the loss curves.
    """

    def __init__(self, logger: TensorBoardLogger, offset: int = 0, every: int = 20) -> None:
        self.logger, self.offset, self.every = logger, offset, every

    def run_step(self, trainer: L.Trainer, module: L.LightningModule) -> int:
        """The run's step: the module's own count where it keeps one (manual optimisation counts
        two optimiser steps per training step), else the trainer's plus earlier legs'."""
        steps = getattr(module, "steps_done", None)
        return int(steps) if steps is not None else self.offset + int(trainer.global_step)

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: object, batch: object, batch_idx: int
    ) -> None:
        """Log every scalar the module logged, and the learning rate."""
        step = self.run_step(trainer, module)
        if step % self.every:
            return
        values = {f"train/{k}": float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        values["train/lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.logger.log_metrics(values, step=step)

    def log_settings(self, settings: dict[str, object]) -> None:
        """The leg's settings as hyper-parameters."""
        self.logger.log_hyperparams({k: str(v) if isinstance(v, list | tuple) else v for k, v in settings.items()})

    def log_scores(self, scores: dict[str, float], step: int) -> None:
        """Scores of the leg's end (``"held-out mIoU"``, ...) under ``scores/``."""
        self.logger.log_metrics({f"scores/{name}": value for name, value in scores.items()}, step=step)

    def log_images(self, tag: str, images: np.ndarray, step: int) -> None:
        """Frames ``[N, H, W, 3]`` uint8 as one image grid (stacked vertically) under ``tag``."""
        self.logger.experiment.add_image(tag, np.concatenate(list(images), axis=0), step, dataformats="HWC")
        self.logger.experiment.flush()

    def log_leg(
        self, settings: dict[str, object], scores: dict[str, float], tag: str, images: np.ndarray, step: int
    ) -> None:
        """The end of a leg: its settings, scores and sample images (``[N, H, W, 3]`` uint8), then close."""
        self.log_settings(settings)
        self.log_scores(scores, step)
        self.log_images(tag, images, step)
        self.close()

    def close(self) -> None:
        """Flush and close the event files."""
        self.logger.finalize("success")


def side_by_side(*columns: np.ndarray) -> np.ndarray:
    """Frames ``[N, H, W, 3]`` of each column put side by side: ``[N, H, W * columns, 3]``."""
    return np.concatenate(columns, axis=2)
