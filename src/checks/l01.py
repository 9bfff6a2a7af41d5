"""Checks for lesson 01's exercises: the RF recurrence, predicting RFs of small nets, the smallest depth.

The recurrence is the one of Araujo et al., "Computing Receptive Fields of Convolutional Neural Networks"
(Distill 2019); dilation as in Yu & Koltun (arXiv 1511.07122).
"""

from __future__ import annotations

import torch.nn as nn

from .. import receptive_field as rf
from ._core import CheckResult, exercise, run_check
from ._hidden import register_hidden

__all__ = ["check_predicted_rf", "check_rf_of_chain", "check_smallest_depth", "exercise_nets"]


def _chain_cases() -> list[tuple[tuple, dict]]:
    chains = [
        [(3, 1, 1)],
        [(3, 1, 1), (3, 1, 1), (3, 1, 1)],
        [(7, 2, 1), (3, 2, 1), (3, 1, 1)],  # the jump is updated after the RF, not before
        [(3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8)],
        [(5, 2, 1), (2, 2, 1), (3, 1, 2), (1, 1, 1), (3, 2, 3)],
        [(1, 4, 1), (3, 1, 1)],  # a 1x1 layer with a stride still multiplies the jump
        [],
    ]
    return [((chain,), {}) for chain in chains]


_CHAIN_HINTS = (
    (
        "mỗi lớp làm RF lớn thêm (k − 1)·d lần bước nhảy hiện tại, rồi bước trượt của lớp nhân bước nhảy lên; "
        "ghi lại (rf, bước nhảy) sau từng lớp, bắt đầu từ một điểm ảnh.",
        "each layer grows the RF by (k − 1)·d times the current jump, then its stride multiplies the jump; "
        "record (rf, jump) after every layer, starting from a single pixel.",
    ),
    (
        "thứ tự quan trọng: cập nhật RF bằng bước nhảy *trước* lớp này, rồi mới cập nhật bước nhảy; "
        "một chuỗi rỗng cho danh sách rỗng.",
        "the order matters: update the RF with the jump from *before* this layer, only then the jump; "
        "an empty chain gives an empty list.",
    ),
)


@exercise("01-1", ("công thức truy hồi cho một chuỗi lớp", "the recurrence for a chain of layers"), cases=_chain_cases)
def check_rf_of_chain(fn) -> CheckResult:
    """``fn(layers)`` with ``layers = [(kernel, stride, dilation), ...]`` -> ``[(rf, jump), ...]`` after each layer."""
    return run_check("01-1", fn, _chain_cases, rf.rf_of_chain, hints=_CHAIN_HINTS)


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


_PREDICT_HINTS = (
    (
        "viết mỗi mạng thành một chuỗi (k, s, d) — phép gộp cũng là một lớp — rồi áp dụng công thức truy hồi "
        "của bài 01-1 từng lớp một.",
        "write each net as a chain of (k, s, d) — pooling is a layer too — then apply the recurrence of "
        "exercise 01-1 one layer at a time.",
    ),
    (
        "MaxPool2d(2) là k = 2, s = 2; MaxPool2d(3, 2) là k = 3, s = 2; phần đệm không đổi RF; ReLU và "
        "tích chập 1x1 bước 1 không thêm gì; sau một bước trượt 2, mọi lớp sau được nhân đôi.",
        "MaxPool2d(2) is k = 2, s = 2; MaxPool2d(3, 2) is k = 3, s = 2; padding does not change the RF; ReLU and "
        "stride-1 1x1 convolutions add nothing; after a stride 2, every later layer counts double.",
    ),
)


@exercise("01-2", ("dự đoán RF của các mạng nhỏ", "predict the RF of small nets"), cases=lambda: [((), {})])
def check_predicted_rf(fn) -> CheckResult:
    """``fn()`` -> ``{"A": rf, "B": rf, "C": rf, "D": rf}``, the learner's predictions for :func:`exercise_nets`.

    Worked out by hand: a wrong answer gets "not yet" (naming the nets still wrong) and a hint, never the value.
    """
    return run_check("01-2", fn, lambda: [((), {})], _true_sizes, hints=_PREDICT_HINTS, hand_computed=True)


def _depth_cases() -> list[tuple[tuple, dict]]:
    return [
        ((7, 3, 1, 1), {}),  # reached exactly after 3 layers: `<=` instead of `<` gives 4
        ((8, 3, 1, 1), {}),
        ((1, 3, 1, 1), {}),  # no layer needed
        ((100, 3, 1, 1), {}),
        ((100, 3, 2, 1), {}),
        ((224, 7, 2, 1), {}),
        ((65, 3, 1, 2), {}),
        ((500, 5, 3, 1), {}),
        ((31, 3, 2, 1), {}),  # exactly reached with a stride: 3, 7, 15, 31
    ]


_DEPTH_HINTS = (
    (
        "thêm từng lớp một, cập nhật RF và bước nhảy như bài 01-1, và dừng ngay khi RF đã đạt (lớn hơn hoặc "
        "bằng) mục tiêu.",
        "add one layer at a time, updating the RF and the jump as in exercise 01-1, and stop as soon as the RF "
        "has reached (is at least) the target.",
    ),
    (
        "điều kiện lặp là 'RF còn nhỏ hơn mục tiêu' (không phải 'nhỏ hơn hoặc bằng'); mục tiêu 1 cần 0 lớp; "
        "kết quả là một số nguyên.",
        "loop while 'the RF is still below the target' (not 'below or equal'); a target of 1 needs 0 layers; "
        "the result is an integer.",
    ),
)


@exercise("01-3", ("độ sâu nhỏ nhất đạt một RF", "smallest depth that reaches an RF"), cases=_depth_cases)
def check_smallest_depth(fn) -> CheckResult:
    """``fn(target_rf, kernel, stride, dilation)`` -> the fewest identical layers whose RF is >= ``target_rf``."""
    return run_check("01-3", fn, _depth_cases, rf.smallest_depth, hints=_DEPTH_HINTS)


# ----------------------------------------------------------------------------- hidden cases (grader)
def _hidden_chain_cases() -> list[tuple[tuple, dict]]:
    chains = [
        [(3, 2, 1), (3, 2, 1), (3, 2, 1)],
        [(5, 1, 1), (3, 3, 1), (3, 1, 3), (2, 2, 1)],
        [(11, 4, 1), (5, 1, 1), (3, 2, 1), (3, 1, 1)],
        [(1, 2, 1), (1, 2, 1), (3, 1, 5)],
        [(3, 1, 16)],
        [(2, 3, 1)],
    ]
    return [((chain,), {}) for chain in chains]


def _hidden_depth_cases() -> list[tuple[tuple, dict]]:
    return [
        ((9, 3, 1, 1), {}),
        ((10, 3, 1, 1), {}),
        ((2, 2, 1, 1), {}),
        ((1, 5, 2, 3), {}),
        ((63, 3, 2, 1), {}),
        ((400, 3, 1, 2), {}),
        ((1000, 3, 2, 1), {}),
        ((50, 7, 1, 3), {}),
    ]


register_hidden(
    "01-1",
    "rf_chain",
    _hidden_chain_cases,
    rf.rf_of_chain,
    forbidden=("src.receptive_field.rf_of_chain", "src.receptive_field.receptive_field"),
    hint=_CHAIN_HINTS[0],
)
register_hidden(
    "01-2",
    "predicted_rf",
    lambda: [((), {})],
    _true_sizes,
    forbidden=("src.receptive_field.receptive_field", "src.receptive_field.rf_of_chain", "src.checks.exercise_nets"),
    hint=_PREDICT_HINTS[0],
)
register_hidden(
    "01-3",
    "smallest_depth",
    _hidden_depth_cases,
    rf.smallest_depth,
    forbidden=("src.receptive_field.smallest_depth",),
    hint=_DEPTH_HINTS[0],
)
