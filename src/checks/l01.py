"""Checks for lesson 01's exercises: the RF recurrence, predicting RFs of small nets, the smallest depth."""

from __future__ import annotations

import torch.nn as nn

from .. import receptive_field as rf
from ._core import CheckResult, exercise, run_check

__all__ = ["check_predicted_rf", "check_rf_of_chain", "check_smallest_depth", "exercise_nets"]


@exercise("01-1", ("công thức truy hồi cho một chuỗi lớp", "the recurrence for a chain of layers"))
def check_rf_of_chain(fn) -> CheckResult:
    """``fn(layers)`` with ``layers = [(kernel, stride, dilation), ...]`` -> ``[(rf, jump), ...]`` after each layer."""
    chains = [
        [(3, 1, 1)],
        [(3, 1, 1), (3, 1, 1), (3, 1, 1)],
        [(7, 2, 1), (3, 2, 1), (3, 1, 1)],
        [(3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8)],
        [(5, 2, 1), (2, 2, 1), (3, 1, 2), (1, 1, 1), (3, 2, 3)],
        [],
    ]
    return run_check(
        "01-1",
        fn,
        [((chain,), {}) for chain in chains],
        rf.rf_of_chain,
        hint=(
            "bắt đầu với r = 1, j = 1; mỗi lớp: r += (k - 1) * d * j rồi mới j *= s; ghi (r, j) sau mỗi lớp.",
            "start from r = 1, j = 1; for each layer: r += (k - 1) * d * j, then j *= s; record (r, j) after each layer.",
        ),
    )


def exercise_nets() -> dict[str, nn.Module]:
    """The small nets whose receptive field exercise 01-2 asks to predict (by hand, before any code)."""
    return {
        "A": nn.Sequential(nn.Conv2d(3, 8, 5), nn.ReLU(), nn.Conv2d(8, 8, 5), nn.ReLU(), nn.Conv2d(8, 8, 5)),
        "B": nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, padding=1),
        ),
        "C": nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.Conv2d(8, 8, 3, padding=2, dilation=2),
            nn.Conv2d(8, 8, 3, padding=4, dilation=4),
        ),
        "D": nn.Sequential(
            nn.Conv2d(3, 8, 7, stride=2, padding=3),
            nn.MaxPool2d(3, 2, padding=1),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.Conv2d(8, 8, 1),
        ),
    }


def _true_sizes() -> dict[str, int]:
    return {name: rf.receptive_field(net, 64).size for name, net in exercise_nets().items()}


@exercise("01-2", ("dự đoán RF của các mạng nhỏ", "predict the RF of small nets"))
def check_predicted_rf(fn) -> CheckResult:
    """``fn()`` -> ``{"A": rf, "B": rf, "C": rf, "D": rf}``, the learner's predictions for :func:`exercise_nets`."""
    return run_check(
        "01-2",
        fn,
        [((), {})],
        _true_sizes,
        hint=(
            "dùng bảng từng lớp: với mỗi lớp, cộng (k - 1) * d * j rồi nhân j với bước trượt; phép gộp 2x2 là k = 2, s = 2.",
            "use the per-layer table: for each layer add (k - 1) * d * j, then multiply j by the stride; 2x2 pooling is k = 2, s = 2.",
        ),
    )


@exercise("01-3", ("độ sâu nhỏ nhất đạt một RF", "smallest depth that reaches an RF"))
def check_smallest_depth(fn) -> CheckResult:
    """``fn(target_rf, kernel, stride, dilation)`` -> the fewest identical layers whose RF is >= ``target_rf``."""
    cases = [
        ((7, 3, 1, 1), {}),
        ((8, 3, 1, 1), {}),
        ((1, 3, 1, 1), {}),
        ((100, 3, 1, 1), {}),
        ((100, 3, 2, 1), {}),
        ((224, 7, 2, 1), {}),
        ((65, 3, 1, 2), {}),
        ((500, 5, 3, 1), {}),
    ]
    return run_check(
        "01-3",
        fn,
        cases,
        rf.smallest_depth,
        hint=(
            "lặp: thêm từng lớp và cập nhật r, j như bài 01-1 cho đến khi r >= target_rf; mục tiêu 1 cần 0 lớp.",
            "loop: add one layer at a time, updating r and j as in exercise 01-1, until r >= target_rf; a target of 1 needs 0 layers.",
        ),
    )
