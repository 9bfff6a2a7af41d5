"""Checks for lesson 02's exercises (dilated / atrous convolution)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..dilated import atrous_output_size, count_valid_taps, dilate_kernel
from ._core import CheckResult, exercise, run_check

__all__ = ["check_atrous_output_size", "check_count_valid_taps", "check_dilate_kernel"]


@exercise("02-1", "zero-inserted kernel")
def check_dilate_kernel(learner: Callable[..., Any]) -> CheckResult:
    """``learner(weight, rate)`` must insert ``rate - 1`` zeros between kernel taps (last two dims)."""
    g = torch.Generator().manual_seed(2)
    cases = [
        ((torch.arange(1.0, 10.0).view(3, 3), 2), {}),
        ((torch.arange(1.0, 10.0).view(3, 3), 1), {}),
        ((torch.randn(2, 3, 3, 3, generator=g), 3), {}),
        ((torch.randn(1, 1, 2, 3, generator=g), 4), {}),
    ]
    return run_check(
        "02-1",
        learner,
        cases,
        reference=dilate_kernel,
        hint=(
            "kích thước mới là r·(k − 1) + 1; tạo tensor 0 rồi gán `out[..., ::rate, ::rate] = weight`.",
            "the new size is r·(k − 1) + 1; make a zero tensor, then `out[..., ::rate, ::rate] = weight`.",
        ),
    )


@exercise("02-2", "output-size formula")
def check_atrous_output_size(learner: Callable[..., Any]) -> CheckResult:
    """``learner(input_size, kernel_size, rate, padding, stride)`` -> output length along one axis."""
    cases = [
        ((65, 3, 1, 1, 1), {}),
        ((65, 3, 6, 0, 1), {}),
        ((64, 3, 12, 12, 1), {}),
        ((512, 7, 1, 3, 2), {}),
        ((33, 3, 2, 1, 2), {}),
        ((20, 5, 3, 2, 3), {}),
    ]
    return run_check(
        "02-2",
        learner,
        cases,
        reference=atrous_output_size,
        hint=(
            "thay k bằng kích thước hiệu dụng r·(k − 1) + 1 trong công thức ⌊(n + 2p − k)/s⌋ + 1.",
            "replace k by the effective size r·(k − 1) + 1 in ⌊(n + 2p − k)/s⌋ + 1.",
        ),
    )


@exercise("02-3", "valid taps at one position")
def check_count_valid_taps(learner: Callable[..., Any]) -> CheckResult:
    """``learner(feature_size, kernel_size, rate, row, col)`` -> taps that land inside the map."""
    cases = [
        ((65, 3, 1, 32, 32), {}),
        ((65, 3, 1, 0, 0), {}),
        ((65, 3, 24, 10, 40), {}),
        ((65, 3, 40, 32, 5), {}),
        ((65, 3, 70, 32, 32), {}),
        ((9, 5, 2, 1, 4), {}),
    ]
    return run_check(
        "02-3",
        learner,
        cases,
        reference=count_valid_taps,
        hint=(
            "các tap theo mỗi trục nằm ở p + r·(t − (k−1)/2); đếm số tap trong [0, n) theo hàng và theo cột rồi nhân lại.",
            "the taps along each axis sit at p + r·(t − (k−1)/2); count those inside [0, n) for the row and "
            "for the column, then multiply.",
        ),
    )
