"""A small training loop for any segmentation model (lesson 00 onwards).

``fit`` trains with Adam, shows a ``tqdm`` progress bar, evaluates on the
validation loader after every epoch (in eval mode: BatchNorm uses its running
statistics) and returns a :class:`History`. A model whose output has one
channel is treated as binary (one logit, sigmoid, BCE); otherwise softmax and
cross-entropy. ``evaluate`` reports pixel accuracy, mIoU and boundary F.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from . import get_device
from .i18n import bad_argument, tr
from .losses import IGNORE_INDEX
from .metrics import boundary_f1, confusion_matrix, iou_from_confusion, pixel_accuracy
from .record import format_number
from .registry import register_core

__all__ = ["IGNORE_INDEX", "History", "evaluate", "fit", "load_checkpoint", "predict", "save_checkpoint"]


def progress(iterable: Any = None, **kwargs: Any):
    """tqdm.auto in a notebook with widgets; a plain, time-free text bar when SRC_NO_WIDGETS is set."""
    if os.environ.get("SRC_NO_WIDGETS"):
        import sys

        from tqdm.std import tqdm

        kwargs.setdefault("file", sys.stdout)
        kwargs.setdefault("bar_format", "{l_bar}{bar:20}| {n_fmt}/{total_fmt}{postfix}")
        kwargs.setdefault("mininterval", 1e9)
        return tqdm(iterable, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


@dataclass
class History:
    """Per-epoch training loss and validation metrics, plus the training time in seconds."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_miou: list[float] = field(default_factory=list)
    val_pixel_accuracy: list[float] = field(default_factory=list)
    val_boundary_f1: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final(self) -> dict[str, float]:
        """Metrics after the last epoch."""
        if not self.val_miou:
            return {}
        return {
            "train_loss": self.train_loss[-1],
            "val_loss": self.val_loss[-1],
            "val_miou": self.val_miou[-1],
            "val_pixel_accuracy": self.val_pixel_accuracy[-1],
            "val_boundary_f1": self.val_boundary_f1[-1],
        }


def _is_binary(logits: torch.Tensor) -> bool:
    return logits.shape[1] == 1


def _output(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    out = model(images)
    if isinstance(out, dict):  # torchvision segmentation models return {"out": ...}
        out = out["out"]
    if out.shape[-2:] != images.shape[-2:]:
        out = F.interpolate(out, size=images.shape[-2:], mode="bilinear", align_corners=False)
    return out


def default_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy (ignore 255) for C >= 2 channels, BCE with logits for one channel."""
    if _is_binary(logits):
        valid = (target != IGNORE_INDEX).float()
        loss = F.binary_cross_entropy_with_logits(logits[:, 0], target.clamp(max=1).float(), reduction="none")
        return (loss * valid).sum() / valid.sum().clamp(min=1)
    return F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)


def _labels(logits: torch.Tensor) -> torch.Tensor:
    return (logits[:, 0] > 0).long() if _is_binary(logits) else logits.argmax(1)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
    """Label maps (N x H x W, on the CPU) of a batch of normalised images, in eval mode."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        logits = _output(model, images.to(device))
    finally:  # a forward that raises must not leave the model in eval mode
        model.train(was_training)
    return _labels(logits).cpu()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    num_classes: int | None = None,
    device: torch.device | str | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, float]:
    """Loss, pixel accuracy, mIoU and boundary F of ``model`` on ``loader`` (eval mode)."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    num_classes = num_classes or getattr(loader.dataset, "num_classes", None)
    if not num_classes:
        raise bad_argument("evaluate", "num_classes", "số lớp (>= 2)", "the number of classes (>= 2)", num_classes)
    loss_fn = loss_fn or default_loss
    was_training = model.training
    model.eval()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long)
    total, batches, preds, targets = 0.0, 0, [], []
    try:
        for images, masks in loader:
            images, masks = images.to(device), masks.to(device)
            logits = _output(model, images)
            total += loss_fn(logits, masks).item()
            batches += 1
            labels = _labels(logits).cpu()
            cm += confusion_matrix(labels, masks.cpu(), num_classes, IGNORE_INDEX)
            preds.append(labels)
            targets.append(masks.cpu())
    finally:  # restore the caller's mode even when a batch raises (or the loop is interrupted)
        model.train(was_training)
    if not batches:
        raise bad_argument(
            "evaluate", "loader", "một loader có ít nhất một batch", "a loader with at least one batch", loader
        )
    iou = iou_from_confusion(cm)
    valid = ~torch.isnan(iou)
    return {
        "loss": total / max(batches, 1),
        "pixel_accuracy": pixel_accuracy(cm),
        "miou": float(iou[valid].mean()) if valid.any() else float("nan"),
        "boundary_f1": boundary_f1(torch.cat(preds), torch.cat(targets), ignore_index=IGNORE_INDEX),
    }


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None = None,
    epochs: int = 5,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    num_classes: int | None = None,
    device: torch.device | str | None = None,
    progress_bar: bool = True,
    description: str | None = None,
) -> History:
    """Train ``model`` with Adam and a cosine learning-rate schedule; return its :class:`History`.

    The model is moved to ``device`` (default :func:`src.get_device`). Validation
    runs after each epoch in eval mode.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise bad_argument("fit", "epochs", "một số nguyên >= 1", "an integer >= 1", epochs)
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise bad_argument("fit", "lr", "một số thực > 0", "a float > 0", lr)
    if len(train_loader) == 0:
        raise bad_argument(
            "fit", "train_loader", "một loader có ít nhất một batch", "a loader with at least one batch", train_loader
        )
    device = torch.device(device) if device is not None else get_device()
    model.to(device)
    loss_fn = loss_fn or default_loss
    num_classes = num_classes or getattr(train_loader.dataset, "num_classes", None)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    steps = epochs * len(train_loader)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.15)
    history = History()
    start = time.perf_counter()
    bar = progress(total=steps, desc=description or tr("huấn luyện", "training"), disable=not progress_bar)
    for _epoch in range(epochs):
        model.train()
        running, count = 0.0, 0
        for images, masks in train_loader:
            images, masks = images.to(device), masks.to(device)
            loss = loss_fn(_output(model, images), masks)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            running += loss.item()
            count += 1
            bar.update(1)
        history.train_loss.append(running / count)
        if val_loader is not None:
            metrics = evaluate(model, val_loader, num_classes, device, loss_fn)
            history.val_loss.append(metrics["loss"])
            history.val_miou.append(metrics["miou"])
            history.val_pixel_accuracy.append(metrics["pixel_accuracy"])
            history.val_boundary_f1.append(metrics["boundary_f1"])
            loss_text, miou_text = format_number(history.train_loss[-1]), format_number(metrics["miou"])
            bar.set_postfix_str(f"loss={loss_text}{tr('; ', ', ')}mIoU={miou_text}", refresh=False)
    bar.close()
    history.seconds = time.perf_counter() - start
    return history


@register_core("00")
def selfcheck_core(device: torch.device) -> str:
    """Lesson 00's core for ``python -m src.selfcheck``: a few FCN training steps on the mosaics, then mIoU."""
    from . import data, metrics, models

    train_set = data.TextureMosaics("mosaic", "train", size=64, count=32)
    model = models.FCN(5, output_stride=8).to(device)
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    images = torch.stack([train_set[i][0] for i in range(32)]).to(device)
    masks = torch.from_numpy(train_set.masks).long().to(device)
    for _ in range(3):
        loss = F.cross_entropy(model(images), masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if not torch.isfinite(loss):
        raise RuntimeError(f"FCN training loss is not finite: {loss.item()}")
    miou = metrics.mean_iou(predict(model, images).cpu(), masks.cpu(), 5)
    return f"FCN loss {loss.item():.3f}, train-batch mIoU {miou:.3f}"


def save_checkpoint(model: nn.Module, path: str | Path, **meta: Any) -> Path:
    """Save the model's state_dict and plain metadata (numbers, strings) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "meta": meta}, path)
    return path


def load_checkpoint(model: nn.Module, path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``); return its metadata."""
    path = Path(path)
    if not path.exists():
        raise bad_argument(
            "load_checkpoint", "path", "một tệp checkpoint có thật", "an existing checkpoint file", str(path)
        )
    payload = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(payload["state_dict"])
    return payload.get("meta", {})
