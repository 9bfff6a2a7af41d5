"""Checks for lesson 00's exercises: the confusion matrix and IoU from it (metrics of FCN, arXiv 1411.4038)."""

from __future__ import annotations

import torch

from .. import metrics
from ._core import CheckResult, exercise, run_check
from ._hidden import register_hidden

__all__ = ["check_confusion_matrix", "check_iou_from_confusion"]


def _label_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(0)
    cases = [
        ((torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3), {}),
        ((torch.tensor([0, 1, 0, 1]), torch.tensor([1, 1, 0, 0]), 4), {}),  # classes 2, 3 never appear
        ((torch.tensor([2, 2, 0]), torch.tensor([0, 1, 0]), 3), {}),  # rows (truth) vs columns (prediction)
    ]
    for classes, shape in ((2, (5,)), (4, (3, 7)), (6, (2, 9, 9))):
        pred = torch.randint(0, classes, shape, generator=g)
        target = torch.randint(0, classes, shape, generator=g)
        cases.append(((pred, target, classes), {}))
    return cases


def _reference_cm(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    return metrics.confusion_matrix(pred, target, num_classes, ignore_index=None)


_CM_HINTS = (
    (
        "hàng là nhãn thật, cột là nhãn dự đoán; ma trận luôn có đủ C x C ô, kể cả lớp không xuất hiện "
        "trong ảnh; kết quả là số nguyên.",
        "rows are true labels, columns predicted ones; the matrix always has all C x C cells, even for a class "
        "that does not appear in the image; the result is an integer matrix.",
    ),
    (
        "mã hoá mỗi cặp (t, p) thành một số nguyên duy nhất trong [0, C·C), đếm số lần mỗi số xuất hiện với "
        "đúng C·C ô đếm, rồi xếp lại thành C x C (hàng t).",
        "encode each pair (t, p) as one integer in [0, C·C), count how often each appears using exactly C·C "
        "bins, then reshape to C x C (row t).",
    ),
)


@exercise("00-1", ("ma trận nhầm lẫn", "confusion matrix"), cases=_label_cases)
def check_confusion_matrix(fn) -> CheckResult:
    """``fn(pred, target, num_classes)`` must return M with M[t, p] = #pixels of class t predicted p."""
    return run_check("00-1", fn, _label_cases, _reference_cm, hints=_CM_HINTS)


def _cm_cases() -> list[tuple[tuple, dict]]:
    cases = [((torch.tensor([[4, 0, 0], [6, 3, 1], [0, 0, 5]]),), {})]  # recall of class 0 is 1, its IoU is 0.4
    for p, t, c in (case[0] for case in _label_cases()):
        cm = _reference_cm(p, t, c) + torch.eye(c, dtype=torch.long)  # every class present: no 0 / 0
        cases.append(((cm,), {}))
    return cases


_IOU_HINTS = (
    (
        "IoU = giao / hợp = TP / (TP + FP + FN) cho từng lớp; đừng nhầm với độ phủ (recall) TP / (TP + FN); "
        "kết quả là một tensor số thực.",
        "IoU = intersection / union = TP / (TP + FP + FN) per class; not the recall TP / (TP + FN); "
        "the result is a float tensor.",
    ),
    (
        "TP nằm trên đường chéo; tổng một hàng là TP + FN, tổng một cột là TP + FP; nên hợp = tổng hàng + "
        "tổng cột − TP. Phép chia số nguyên cho kết quả sai: đổi sang số thực trước.",
        "TP sits on the diagonal; a row sum is TP + FN, a column sum TP + FP; so the union = row sum + "
        "column sum − TP. Integer division gives wrong results: convert to float first.",
    ),
)


@exercise("00-2", ("IoU từ ma trận nhầm lẫn", "IoU from a confusion matrix"), cases=_cm_cases)
def check_iou_from_confusion(fn) -> CheckResult:
    """``fn(cm)`` must return the per-class IoU = TP / (TP + FP + FN) as a float tensor."""
    return run_check("00-2", fn, _cm_cases, metrics.iou_from_confusion, hints=_IOU_HINTS)


# ----------------------------------------------------------------------------- hidden cases (grader)
def _hidden_label_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(1000)
    cases = [
        ((torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]), 4), {}),  # classes 2 and 3 absent: needs minlength
        ((torch.tensor([1, 1, 1]), torch.tensor([0, 0, 2]), 3), {}),  # asymmetric: rows vs columns
    ]
    for classes, shape in ((5, (3, 5, 5)), (7, (7, 3)), (2, (1, 4, 6))):
        pred = torch.randint(0, classes, shape, generator=g)
        target = torch.randint(0, classes, shape, generator=g)
        cases.append(((pred, target, classes), {}))
    return cases


def _hidden_cm_cases() -> list[tuple[tuple, dict]]:
    cases = [((torch.tensor([[5, 1, 0], [3, 2, 4], [0, 0, 7]]),), {})]  # row sums != column sums
    for p, t, c in (case[0] for case in _hidden_label_cases()):
        cases.append(((_reference_cm(p, t, c) + torch.eye(c, dtype=torch.long),), {}))
    return cases


register_hidden(
    "00-1",
    "my_confusion_matrix",
    _hidden_label_cases,
    _reference_cm,
    forbidden=("src.metrics.confusion_matrix", "src.metrics.per_class_iou", "src.metrics.segmentation_report"),
    hint=_CM_HINTS[0],
)
register_hidden(
    "00-2",
    "my_iou",
    _hidden_cm_cases,
    metrics.iou_from_confusion,
    forbidden=("src.metrics.iou_from_confusion", "src.metrics.per_class_iou", "src.metrics.mean_iou"),
    hint=_IOU_HINTS[0],
)
