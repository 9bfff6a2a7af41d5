"""Checks for lesson 02's exercises: dilated / atrous convolution (Yu & Koltun, arXiv 1511.07122;
DeepLabv3, arXiv 1706.05587, Fig. 4 for the valid weights; the output size as in Dumoulin & Visin,
arXiv 1603.07285)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..dilated import atrous_output_size, count_valid_taps, dilate_kernel
from ._core import CheckResult, exercise, run_check
from ._hidden import register_hidden

__all__ = ["check_atrous_output_size", "check_count_valid_taps", "check_dilate_kernel"]


def _kernel_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(2)
    return [
        ((torch.arange(1.0, 10.0).view(3, 3), 2), {}),
        ((torch.arange(1.0, 10.0).view(3, 3), 1), {}),  # rate 1: the kernel unchanged
        ((torch.randn(2, 3, 3, 3, generator=g), 3), {}),  # leading dimensions
        ((torch.randn(1, 1, 2, 3, generator=g), 4), {}),  # non-square, even side
        ((torch.randn(5, 1, generator=g, dtype=torch.float64), 2), {}),  # a 5 x 1 kernel, float64 kept
    ]


_KERNEL_HINTS = (
    (
        "giữa hai trọng số liền nhau có rate − 1 số 0, nên một cạnh k trở thành r·(k − 1) + 1 (không phải r·k); "
        "giữ nguyên các chiều phía trước và kiểu dữ liệu của weight.",
        "between two neighbouring weights there are rate − 1 zeros, so a side k becomes r·(k − 1) + 1 (not r·k); "
        "keep weight's leading dimensions and dtype.",
    ),
    (
        "tạo một tensor toàn số 0 có kích thước mới (cùng dtype, ví dụ bằng weight.new_zeros), rồi gán weight vào "
        "các ô cách nhau rate bước theo hai chiều cuối bằng phép cắt lát có bước.",
        "make an all-zero tensor of the new size (same dtype, e.g. with weight.new_zeros), then assign weight to "
        "every rate-th cell of the last two dimensions with a strided slice.",
    ),
)


@exercise("02-1", ("nhân có chèn số 0", "zero-inserted kernel"), cases=_kernel_cases)
def check_dilate_kernel(learner: Callable[..., Any]) -> CheckResult:
    """``learner(weight, rate)`` must insert ``rate - 1`` zeros between kernel taps (last two dims)."""
    return run_check("02-1", learner, _kernel_cases, reference=dilate_kernel, hints=_KERNEL_HINTS, rtol=0, atol=0)


def _size_cases() -> list[tuple[tuple, dict]]:
    return [
        ((65, 3, 1, 1, 1), {}),
        ((65, 3, 6, 0, 1), {}),
        ((64, 3, 12, 12, 1), {}),  # 'same' padding: the size is kept
        ((512, 7, 1, 3, 2), {}),
        ((33, 3, 2, 1, 2), {}),  # the floor matters
        ((20, 5, 3, 2, 3), {}),
        ((13, 1, 5, 0, 1), {}),  # a 1x1 kernel ignores the rate
    ]


_SIZE_HINTS = (
    (
        "một tích chập giãn là một tích chập thường với nhân hiệu dụng r·(k − 1) + 1; dùng công thức kích thước "
        "đầu ra quen thuộc với nhân đó; kết quả là một số nguyên.",
        "a dilated convolution is an ordinary convolution with the effective kernel r·(k − 1) + 1; use the usual "
        "output-size formula with that kernel; the result is an integer.",
    ),
    (
        "⌊(n + 2p − k_eff) / s⌋ + 1: dùng phép chia lấy phần nguyên `//` (không dùng `/` rồi làm tròn) và đừng "
        "quên + 1.",
        "⌊(n + 2p − k_eff) / s⌋ + 1: use floor division `//` (not `/` then rounding) and do not forget the + 1.",
    ),
)


@exercise("02-2", ("công thức kích thước đầu ra", "output-size formula"), cases=_size_cases)
def check_atrous_output_size(learner: Callable[..., Any]) -> CheckResult:
    """``learner(input_size, kernel_size, rate, padding, stride)`` -> output length along one axis."""
    return run_check("02-2", learner, _size_cases, reference=atrous_output_size, hints=_SIZE_HINTS)


def _tap_cases() -> list[tuple[tuple, dict]]:
    return [
        ((65, 3, 1, 32, 32), {}),
        ((65, 3, 1, 0, 0), {}),  # a corner
        ((65, 3, 24, 10, 40), {}),
        ((65, 3, 40, 32, 5), {}),
        ((65, 3, 70, 32, 32), {}),  # rate >= the map side: only the centre tap
        ((9, 5, 2, 1, 4), {}),
        ((10, 3, 3, 7, 3), {}),  # row + r == n: just outside, an off-by-one `<= n` counts it
        ((7, 3, 3, 3, 6), {}),  # rows and columns differ
    ]


_TAP_HINTS = (
    (
        "theo mỗi trục, các tap nằm ở vị trí + r·(t − (k − 1)/2), t = 0 … k − 1; một tap hợp lệ khi nó rơi vào "
        "trong bản đồ (không vào phần đệm); hàng và cột độc lập với nhau.",
        "along each axis the taps sit at the position + r·(t − (k − 1)/2), t = 0 … k − 1; a tap is valid when it "
        "lands inside the map (not in the padding); rows and columns are independent.",
    ),
    (
        "đếm các tap hợp lệ theo hàng và theo cột riêng rồi nhân hai số đó; 'trong bản đồ' nghĩa là 0 ≤ i < n "
        "(chỉ số n đã nằm ngoài).",
        "count the valid taps along the rows and along the columns separately, then multiply; 'inside the map' "
        "means 0 ≤ i < n (index n is already outside).",
    ),
)


@exercise("02-3", ("số tap hợp lệ tại một vị trí", "valid taps at one position"), cases=_tap_cases)
def check_count_valid_taps(learner: Callable[..., Any]) -> CheckResult:
    """``learner(feature_size, kernel_size, rate, row, col)`` -> taps that land inside the map."""
    return run_check("02-3", learner, _tap_cases, reference=count_valid_taps, hints=_TAP_HINTS)


# ----------------------------------------------------------------------------- hidden cases (grader)
def _hidden_kernel_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(2002)
    return [
        ((torch.randn(3, 3, generator=g), 3), {}),
        ((torch.randn(4, 2, 1, 3, generator=g), 2), {}),
        ((torch.randn(2, 2, generator=g, dtype=torch.float64), 5), {}),
        ((torch.randn(1, 5, generator=g), 1), {}),
        ((torch.arange(1.0, 5.0).view(2, 2), 6), {}),
    ]


def _hidden_size_cases() -> list[tuple[tuple, dict]]:
    return [
        ((97, 3, 2, 2, 1), {}),
        ((97, 3, 24, 24, 2), {}),
        ((30, 5, 2, 0, 4), {}),
        ((8, 3, 3, 3, 1), {}),
        ((129, 7, 4, 1, 3), {}),
        ((5, 1, 9, 0, 2), {}),
        ((50, 3, 2, 1, 4), {}),  # 47 / 4 = 11.75: rounding gives 12, the floor 11
    ]


def _hidden_tap_cases() -> list[tuple[tuple, dict]]:
    return [
        ((33, 3, 1, 16, 16), {}),
        ((33, 3, 16, 16, 0), {}),
        ((33, 3, 17, 16, 16), {}),
        ((33, 5, 4, 7, 30), {}),
        ((12, 3, 4, 8, 3), {}),
        ((6, 7, 1, 0, 5), {}),
    ]


register_hidden(
    "02-1",
    "dilate_kernel",
    _hidden_kernel_cases,
    dilate_kernel,
    rtol=0,
    atol=0,
    forbidden=("src.dilated.dilate_kernel", "src.dilated.atrous_conv2d"),
    hint=_KERNEL_HINTS[0],
)
register_hidden(
    "02-2",
    "atrous_output_size",
    _hidden_size_cases,
    atrous_output_size,
    forbidden=("src.dilated.atrous_output_size",),
    hint=_SIZE_HINTS[0],
)
register_hidden(
    "02-3",
    "count_valid_taps",
    _hidden_tap_cases,
    count_valid_taps,
    forbidden=("src.dilated.count_valid_taps", "src.dilated.valid_weight_histogram"),
    hint=_TAP_HINTS[0],
)
