"""Lesson 03's loss comparison: the same small network trained with BCE, Dice or focal loss on ``binary_small``.

The network is :class:`src.claims.ContextProbe` (trunk at output stride 4, no
context block); only the loss differs. ``binary_small`` has a few per cent of
foreground pixels (small grass discs), the imbalance that Dice (Milletari et
al., "V-Net", arXiv 1606.04797) and focal loss (Lin et al., arXiv 1708.02002)
are meant for. The claim's metric is the foreground IoU on the val split
(:func:`foreground_iou`), threshold 0 on the logit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from .i18n import bad_argument

__all__ = ["LOSSES", "LossProbe", "foreground_iou"]


def _bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from .losses import bce_with_logits

    return bce_with_logits(logits, target)


def _dice(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from .losses import dice_loss

    return dice_loss(logits, target)


def _focal(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from .losses import focal_loss

    return focal_loss(logits, target, gamma=2.0)


#: the compared losses (``src.losses``): BCE, soft Dice (smooth 1), focal (gamma 2, no alpha)
LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "bce": _bce,
    "dice": _dice,
    "focal": _focal,
}


class LossProbe(nn.Module):
    """``ContextProbe(context="none")`` carrying the loss it is trained with (``.loss_fn``, read by ``src.claims.run``).

    Two classes (background, foreground) give one logit (sigmoid); other
    ``num_classes`` give that many channels.
    """

    def __init__(self, num_classes: int, loss: str) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise bad_argument("LossProbe", "loss", f"một trong {tuple(LOSSES)}", f"one of {tuple(LOSSES)}", loss)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise bad_argument("LossProbe", "num_classes", "một số nguyên >= 2", "an integer >= 2", num_classes)
        from .claims import ContextProbe

        self.loss = loss
        self.loss_fn = LOSSES[loss]
        self.net = ContextProbe(1 if num_classes == 2 else num_classes, "none")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@torch.no_grad()
def foreground_iou(model: nn.Module, loader: DataLoader, device: torch.device | str | None = None) -> float:
    """IoU of the foreground (label 1) over all of ``loader``, eval mode: |P ∩ G| / |P ∪ G|, 0 when both are empty."""
    from .train import predict

    if not isinstance(model, nn.Module):
        raise bad_argument("foreground_iou", "model", "một nn.Module", "an nn.Module", model, TypeError)
    intersection = union = 0
    for images, masks in loader:
        pred = predict(model, images, device) == 1
        target = masks == 1
        intersection += int((pred & target).sum())
        union += int((pred | target).sum())
    return intersection / union if union else 0.0
