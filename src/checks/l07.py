"""Checks for lesson 07's exercises: the best model under a latency budget, the most confused class."""

from __future__ import annotations

import torch

from .. import compare
from ._core import CheckResult, exercise, run_check

__all__ = ["check_best_under_budget", "check_most_confused"]

_TABLE = [
    {"model": "FCN", "se": False, "miou": 0.61, "latency_ms": 2.0},
    {"model": "FCN", "se": True, "miou": 0.63, "latency_ms": 2.6},
    {"model": "DeepLabV3 (ASPP)", "se": False, "miou": 0.70, "latency_ms": 5.5},
    {"model": "DeepLabV3 (ASPP)", "se": True, "miou": 0.72, "latency_ms": 6.1},
    {"model": "PSPNet", "se": False, "miou": 0.66, "latency_ms": 3.2},
    {"model": "PSPNet", "se": True, "miou": 0.65, "latency_ms": 3.9},
    {"model": "RefineNet-LW", "se": False, "miou": 0.71, "latency_ms": 4.8},
    {"model": "RefineNet-LW", "se": True, "miou": 0.74, "latency_ms": 7.5},
]


@exercise("07-1", ("mô hình tốt nhất trong ngân sách độ trễ", "best model under a latency budget"))
def check_best_under_budget(fn) -> CheckResult:
    """``fn(rows, latency_budget_ms)`` -> the name ("model" + " + SE" when se) with the best mIoU within the budget."""
    cases = [((_TABLE, budget), {}) for budget in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0)]
    return run_check(
        "07-1",
        fn,
        cases,
        compare.best_under_budget,
        hint=(
            "giữ các hàng có latency_ms <= ngân sách, chọn hàng có miou lớn nhất; không hàng nào vừa thì trả về None.",
            "keep the rows with latency_ms <= budget, pick the one with the largest miou; return None if none fits.",
        ),
    )


@exercise("07-2", ("lớp bị nhầm nhiều nhất", "the most confused class"))
def check_most_confused(fn) -> CheckResult:
    """``fn(cm)`` -> (class with the lowest IoU, the class it is most often predicted as)."""
    cases = [
        ((torch.tensor([[50, 2, 1], [10, 20, 15], [0, 3, 40]]),), {}),
        ((torch.tensor([[9, 1], [4, 6]]),), {}),
        ((torch.tensor([[30, 0, 0, 5], [0, 25, 6, 0], [1, 12, 14, 3], [2, 0, 0, 40]]),), {}),
    ]
    return run_check(
        "07-2",
        fn,
        cases,
        compare.most_confused,
        hint=(
            "tính IoU từng lớp, lấy lớp nhỏ nhất; trên hàng của lớp đó (bỏ đường chéo), cột lớn nhất là lớp bị nhầm thành.",
            "compute each class's IoU, take the smallest; in that class's row (diagonal excluded) the largest column is the class it is mistaken for.",
        ),
    )
