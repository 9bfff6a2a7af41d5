"""Checks for lesson 07's exercises (the capstone): the best model under a latency budget, the most confused class
(IoU as in FCN, arXiv 1411.4038; the models of lessons 02-06)."""

from __future__ import annotations

import torch

from .. import compare
from ._core import CheckResult, exercise, run_check
from ._hidden import register_hidden

__all__ = ["check_best_under_budget", "check_most_confused"]


def _row(model: str, se: bool, miou: float, latency_ms: float) -> dict:
    return {"model": model, "se": se, "miou": miou, "latency_ms": latency_ms}


def _table() -> list[dict]:
    """A fresh table for every case: a learner that sorts, pops or edits the rows changes nothing else."""
    return [
        _row("FCN", False, 0.61, 2.0),
        _row("FCN", True, 0.63, 2.6),
        _row("RefineNet-LW", False, 0.70, 5.5),
        _row("DeepLabV3 (ASPP)", False, 0.70, 4.4),  # ties RefineNet-LW, faster, and listed after it
        _row("DeepLabV3 (ASPP)", True, 0.72, 6.1),
        _row("PSPNet", False, 0.66, 3.2),
        _row("PSPNet", True, 0.65, 3.9),
        _row("RefineNet-LW", True, 0.74, 7.5),
    ]


def _budget_cases() -> list[tuple[tuple, dict]]:
    # 1.0: nothing fits; 2.0 and 4.4: a latency exactly on the budget fits; 5.5, 6.0: the tie
    return [((_table(), budget), {}) for budget in (1.0, 2.0, 3.0, 4.0, 4.4, 5.0, 5.5, 6.0, 6.1, 100.0)]


_BUDGET_HINTS = (
    (
        "chỉ giữ các hàng vừa ngân sách (độ trễ nhỏ hơn *hoặc bằng* ngân sách); trong số đó chọn miou cao nhất; "
        "khi hai hàng cùng miou, hàng nhanh hơn thắng; không hàng nào vừa thì trả về None.",
        "keep only the rows within the budget (latency below *or equal to* it); among them take the highest "
        "miou; when two rows have the same miou, the faster one wins; if none fits, return None.",
    ),
    (
        "max với một khoá là cặp (miou, −latency_ms) xử lý được trường hợp hoà; tên là row['model'], thêm "
        "' + SE' (có khoảng trắng hai bên dấu +) khi row['se'] là True; đừng sửa danh sách rows.",
        "max with a key that is the pair (miou, −latency_ms) handles ties; the name is row['model'], plus "
        "' + SE' (spaces around the +) when row['se'] is True; do not modify the rows list.",
    ),
)


@exercise("07-1", ("mô hình tốt nhất trong ngân sách độ trễ", "best model under a latency budget"), cases=_budget_cases)
def check_best_under_budget(fn) -> CheckResult:
    """``fn(rows, latency_budget_ms)`` -> the name ("model" + " + SE" when se) with the best mIoU within the budget."""
    return run_check("07-1", fn, _budget_cases, compare.best_under_budget, hints=_BUDGET_HINTS)


def _confusion_cases() -> list[tuple[tuple, dict]]:
    return [
        # worst IoU is class 1 (the worst recall is class 2); its row says 0, its column says 2
        ((torch.tensor([[30, 0, 10], [2, 20, 0], [0, 25, 40]]),), {}),
        ((torch.tensor([[10, 2, 0], [3, 5, 0], [0, 0, 0]]),), {}),  # class 2 absent: NaN IoU is never the worst
        ((torch.tensor([[9, 1], [4, 6]]),), {}),
        ((torch.tensor([[30, 0, 0, 5], [0, 25, 6, 0], [1, 12, 14, 3], [2, 0, 0, 40]]),), {}),
    ]


_CONFUSED_HINTS = (
    (
        "hai bước: lớp yếu nhất là lớp có IoU thấp nhất (không phải độ phủ thấp nhất; lớp vắng mặt, IoU = NaN, "
        "không tính); rồi trên *hàng* của lớp đó (nhãn thật), bỏ đường chéo, tìm cột lớn nhất.",
        "two steps: the weakest class is the one with the lowest IoU (not the lowest recall; an absent class, "
        "IoU = NaN, does not count); then in that class's *row* (true label), diagonal excluded, find the "
        "largest column.",
    ),
    (
        "IoU = TP / (tổng hàng + tổng cột − TP); thay NaN bằng một số lớn trước khi lấy argmin; sao chép hàng, "
        "đặt ô đường chéo thành −1 rồi argmax; trả về hai số nguyên.",
        "IoU = TP / (row sum + column sum − TP); replace NaN by a large number before the argmin; copy the row, "
        "set its diagonal cell to −1, then argmax; return two integers.",
    ),
)


@exercise("07-2", ("lớp bị nhầm nhiều nhất", "the most confused class"), cases=_confusion_cases)
def check_most_confused(fn) -> CheckResult:
    """``fn(cm)`` -> (class with the lowest IoU, the class it is most often predicted as)."""
    return run_check("07-2", fn, _confusion_cases, compare.most_confused, hints=_CONFUSED_HINTS)


# ----------------------------------------------------------------------------- hidden cases (grader)
def _hidden_table() -> list[dict]:
    return [
        _row("PSPNet", True, 0.68, 3.0),
        _row("FCN", False, 0.58, 1.5),
        _row("DeepLabV3+", False, 0.73, 5.0),
        _row("RefineNet", True, 0.68, 2.5),  # ties PSPNet + SE, faster, listed after it
        _row("DeepLabV3+", True, 0.73, 4.5),  # ties DeepLabV3+, faster, listed after it
        _row("FCN", True, 0.60, 1.8),
    ]


def _hidden_budget_cases() -> list[tuple[tuple, dict]]:
    return [((_hidden_table(), budget), {}) for budget in (1.0, 1.5, 2.0, 2.5, 3.0, 4.5, 5.0, 50.0)]


def _hidden_confusion_cases() -> list[tuple[tuple, dict]]:
    return [
        ((torch.tensor([[12, 0, 4], [1, 30, 2], [8, 2, 9]]),), {}),
        ((torch.tensor([[40, 5, 0, 0], [3, 2, 6, 0], [9, 1, 20, 0], [0, 2, 11, 25]]),), {}),
        ((torch.tensor([[3, 7], [0, 20]]),), {}),
        ((torch.tensor([[20, 1, 6], [0, 15, 0], [3, 12, 18]]),), {}),
        ((torch.tensor([[50, 0, 0], [20, 30, 0], [0, 30, 20]]),), {}),  # worst IoU 1, worst recall 2
    ]


register_hidden(
    "07-1",
    "best_under_budget",
    _hidden_budget_cases,
    compare.best_under_budget,
    forbidden=("src.compare.best_under_budget",),
    hint=_BUDGET_HINTS[0],
)
register_hidden(
    "07-2",
    "most_confused",
    _hidden_confusion_cases,
    compare.most_confused,
    forbidden=("src.compare.most_confused", "src.metrics.iou_from_confusion"),
    hint=_CONFUSED_HINTS[0],
)
