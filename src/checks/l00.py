"""Checks for lesson 00's exercises: the confusion matrix and IoU from it."""

from __future__ import annotations

import torch

from .. import metrics
from ._core import CheckResult, exercise, run_check
from ._hidden import register_hidden

__all__ = ["check_confusion_matrix", "check_iou_from_confusion"]


def _label_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(0)
    cases = [((torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3), {})]
    for classes, shape in ((2, (5,)), (4, (3, 7)), (6, (2, 9, 9))):
        pred = torch.randint(0, classes, shape, generator=g)
        target = torch.randint(0, classes, shape, generator=g)
        cases.append(((pred, target, classes), {}))
    return cases


@exercise("00-1", ("ma trận nhầm lẫn", "confusion matrix"))
def check_confusion_matrix(fn) -> CheckResult:
    """``fn(pred, target, num_classes)`` must return M with M[t, p] = #pixels of class t predicted p."""
    return run_check(
        "00-1",
        fn,
        _label_cases(),
        lambda p, t, c: metrics.confusion_matrix(p, t, c, ignore_index=None),
        hint=(
            "hàng là nhãn thật, cột là nhãn dự đoán; thử torch.bincount(target * C + pred, minlength=C * C).",
            "rows are true labels, columns predicted ones; try torch.bincount(target * C + pred, minlength=C * C).",
        ),
    )


@exercise("00-2", ("IoU từ ma trận nhầm lẫn", "IoU from a confusion matrix"))
def check_iou_from_confusion(fn) -> CheckResult:
    """``fn(cm)`` must return the per-class IoU = TP / (TP + FP + FN) as a float tensor."""
    cases = []
    for p, t, c in (case[0] for case in _label_cases()):
        cm = metrics.confusion_matrix(p, t, c, ignore_index=None)
        cm = cm + torch.eye(c, dtype=cm.dtype)  # every class present: no 0 / 0
        cases.append(((cm,), {}))
    return run_check(
        "00-2",
        fn,
        cases,
        lambda cm: metrics.iou_from_confusion(cm).float(),
        hint=(
            "TP là đường chéo; FP = tổng cột - TP; FN = tổng hàng - TP. Nhớ đổi sang số thực.",
            "TP is the diagonal; FP = column sum - TP; FN = row sum - TP. Convert to float.",
        ),
    )


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
        cm = metrics.confusion_matrix(p, t, c, ignore_index=None) + torch.eye(c, dtype=torch.long)
        cases.append(((cm,), {}))
    return cases


register_hidden(
    "00-1",
    "my_confusion_matrix",
    _hidden_label_cases,
    lambda p, t, c: metrics.confusion_matrix(p, t, c, ignore_index=None),
    forbidden=("src.metrics.confusion_matrix", "src.metrics.per_class_iou", "src.metrics.segmentation_report"),
    hint=(
        "ô M[t, p] đếm số điểm ảnh có nhãn thật t và nhãn dự đoán p; ma trận luôn có C x C ô, kể cả lớp vắng mặt.",
        "cell M[t, p] counts the pixels of true label t predicted as p; the matrix always has C x C cells, "
        "absent classes included.",
    ),
)
register_hidden(
    "00-2",
    "my_iou",
    _hidden_cm_cases,
    metrics.iou_from_confusion,
    forbidden=("src.metrics.iou_from_confusion", "src.metrics.per_class_iou", "src.metrics.mean_iou"),
    hint=(
        "IoU của một lớp = TP / (TP + FP + FN): FP nằm trong cột của lớp, FN trong hàng; kết quả là số thực.",
        "a class's IoU = TP / (TP + FP + FN): FP lies in the class's column, FN in its row; the result is a float.",
    ),
)
