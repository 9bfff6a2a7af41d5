"""Segmentation metrics (lesson 00): confusion matrix, pixel accuracy, IoU, mIoU, boundary F.

IoU_c = TP_c / (TP_c + FP_c + FN_c) for each class c; mIoU averages it over the
classes that occur in the prediction or the ground truth. The boundary F-score
(Csurka et al., BMVC 2013; the BF score) compares the class-boundary pixels of
the prediction and of the ground truth within a pixel tolerance.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .i18n import bad_argument
from .losses import IGNORE_INDEX

__all__ = [
    "boundary_f1",
    "confusion_matrix",
    "iou_from_confusion",
    "mean_iou",
    "per_class_iou",
    "pixel_accuracy",
    "segmentation_report",
]


def _as_labels(x: torch.Tensor | np.ndarray, name: str, fn: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise bad_argument(fn, name, "một tensor nhãn (số nguyên)", "a tensor of integer labels", x, TypeError)
    if x.dtype.is_floating_point or x.dtype == torch.bool:
        raise bad_argument(fn, name, "một tensor số nguyên (nhãn)", "an integer tensor of labels", x, TypeError)
    return x.long()


def confusion_matrix(
    pred: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    num_classes: int,
    ignore_index: int | None = IGNORE_INDEX,
) -> torch.Tensor:
    """Confusion matrix ``M[t, p]`` = number of pixels of true class t predicted as p.

    ``pred`` and ``target`` are integer label maps of the same shape (any
    batch shape). Pixels whose target equals ``ignore_index`` are skipped.
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise bad_argument("confusion_matrix", "num_classes", "một số nguyên >= 1", "an integer >= 1", num_classes)
    pred = _as_labels(pred, "pred", "confusion_matrix")
    target = _as_labels(target, "target", "confusion_matrix")
    if pred.shape != target.shape:
        raise bad_argument(
            "confusion_matrix",
            "pred",
            f"cùng kích thước với target {tuple(target.shape)}",
            f"the same shape as target {tuple(target.shape)}",
            pred,
        )
    pred, target = pred.reshape(-1).cpu(), target.reshape(-1).cpu()
    keep = torch.ones_like(target, dtype=torch.bool)
    if ignore_index is not None:
        keep &= target != ignore_index
    pred, target = pred[keep], target[keep]
    if target.numel() and (target.min() < 0 or target.max() >= num_classes):
        raise bad_argument(
            "confusion_matrix", "target", f"nhãn trong [0, {num_classes})", f"labels in [0, {num_classes})", target
        )
    if pred.numel() and (pred.min() < 0 or pred.max() >= num_classes):
        raise bad_argument(
            "confusion_matrix", "pred", f"nhãn trong [0, {num_classes})", f"labels in [0, {num_classes})", pred
        )
    index = target * num_classes + pred
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def pixel_accuracy(cm: torch.Tensor) -> float:
    """Fraction of pixels on the diagonal of the confusion matrix."""
    cm = cm.double()
    total = cm.sum()
    return float(cm.diag().sum() / total) if total > 0 else float("nan")


def iou_from_confusion(cm: torch.Tensor) -> torch.Tensor:
    """Per-class IoU from a confusion matrix; NaN for a class absent from both maps."""
    if not isinstance(cm, torch.Tensor) or cm.dim() != 2 or cm.shape[0] != cm.shape[1]:
        raise bad_argument(
            "iou_from_confusion", "cm", "một ma trận vuông C x C", "a square C x C matrix", cm, TypeError
        )
    cm = cm.double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))


def per_class_iou(pred, target, num_classes: int, ignore_index: int | None = IGNORE_INDEX) -> torch.Tensor:
    """Per-class IoU of two label maps (NaN where a class is absent from both)."""
    return iou_from_confusion(confusion_matrix(pred, target, num_classes, ignore_index))


def mean_iou(pred, target, num_classes: int, ignore_index: int | None = IGNORE_INDEX) -> float:
    """Mean IoU over the classes present in the prediction or the ground truth."""
    iou = per_class_iou(pred, target, num_classes, ignore_index)
    valid = ~torch.isnan(iou)
    return float(iou[valid].mean()) if valid.any() else float("nan")


def _boundary(labels: torch.Tensor) -> torch.Tensor:
    """Pixels whose 4-neighbourhood holds another label (labels: N x H x W)."""
    edge = torch.zeros_like(labels, dtype=torch.bool)
    dy = labels[:, 1:, :] != labels[:, :-1, :]
    dx = labels[:, :, 1:] != labels[:, :, :-1]
    edge[:, 1:, :] |= dy
    edge[:, :-1, :] |= dy
    edge[:, :, 1:] |= dx
    edge[:, :, :-1] |= dx
    return edge


def _dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    if radius <= 0:
        return mask
    k = 2 * radius + 1
    return F.max_pool2d(mask[:, None].float(), k, stride=1, padding=radius)[:, 0] > 0


def boundary_f1(pred, target, tolerance: int = 2, ignore_index: int | None = IGNORE_INDEX) -> float:
    """Boundary F-score: precision/recall of boundary pixels matched within ``tolerance`` pixels.

    Computed over the whole batch (pixels with the ignore label are dropped
    from both boundary maps). Returns 1.0 when neither map has a boundary.
    """
    if not isinstance(tolerance, int) or tolerance < 0:
        raise bad_argument("boundary_f1", "tolerance", "một số nguyên >= 0", "an integer >= 0", tolerance)
    pred = _as_labels(pred, "pred", "boundary_f1")
    target = _as_labels(target, "target", "boundary_f1")
    if pred.shape != target.shape:
        raise bad_argument(
            "boundary_f1", "pred", f"kích thước {tuple(target.shape)}", f"shape {tuple(target.shape)}", pred
        )
    if pred.dim() == 2:
        pred, target = pred[None], target[None]
    pred, target = pred.cpu(), target.cpu()
    bp, bt = _boundary(pred), _boundary(target)
    if ignore_index is not None:
        keep = target != ignore_index
        bp, bt = bp & keep, bt & keep
    n_p, n_t = int(bp.sum()), int(bt.sum())
    if n_p == 0 and n_t == 0:
        return 1.0
    if n_p == 0 or n_t == 0:
        return 0.0
    precision = float((bp & _dilate(bt, tolerance)).sum()) / n_p
    recall = float((bt & _dilate(bp, tolerance)).sum()) / n_t
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def segmentation_report(pred, target, num_classes: int, ignore_index: int | None = IGNORE_INDEX) -> dict[str, float]:
    """Pixel accuracy, mIoU and boundary F of a batch, in one dict."""
    cm = confusion_matrix(pred, target, num_classes, ignore_index)
    iou = iou_from_confusion(cm)
    valid = ~torch.isnan(iou)
    return {
        "pixel_accuracy": pixel_accuracy(cm),
        "miou": float(iou[valid].mean()) if valid.any() else float("nan"),
        "boundary_f1": boundary_f1(pred, target, ignore_index=ignore_index),
    }
