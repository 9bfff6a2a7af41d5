"""Checks for lesson 05's exercises (RefineNet, arXiv 1611.06612): CRP forward, multi-resolution fusion."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ..refinenet import chained_residual_pooling, multi_resolution_fusion
from ._core import CheckResult, exercise, run_check

__all__ = ["check_chained_residual_pooling", "check_multi_resolution_fusion"]


def _convs(channels_in: list[int], channels_out: int, kernel_size: int, seed: int) -> nn.ModuleList:
    with torch.random.fork_rng(devices=[]):  # do not disturb the notebook's random state
        torch.manual_seed(seed)
        return nn.ModuleList(
            nn.Conv2d(c, channels_out, kernel_size, padding=kernel_size // 2, bias=False) for c in channels_in
        )


@exercise("05-2", "chained residual pooling")
def check_chained_residual_pooling(learner: Any) -> CheckResult:
    """Check ``learner(x, convs)`` against :func:`src.refinenet.chained_residual_pooling`."""
    cases = []
    for seed, (shape, blocks, k) in enumerate(
        [((1, 4, 9, 9), 1, 3), ((2, 3, 12, 7), 2, 3), ((1, 5, 11, 13), 4, 3), ((1, 6, 8, 5), 4, 1)]
    ):
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(100 + seed))
        cases.append(((x, _convs([shape[1]] * blocks, shape[1], k, seed)), {}))
    with torch.no_grad():
        return run_check(
            "05-2",
            learner,
            cases,
            chained_residual_pooling,
            hint=(
                "bắt đầu bằng x = relu(x) và path = x; với mỗi conv: path = conv(max_pool2d(path, 5, stride=1, "
                "padding=2)) rồi x = x + path. Mỗi khối gộp đầu ra của khối trước (chuỗi), không gộp lại x ban đầu.",
                "start with x = relu(x) and path = x; for each conv: path = conv(max_pool2d(path, 5, stride=1, "
                "padding=2)), then x = x + path. Each block pools the previous block's output (a chain), not x again.",
            ),
        )


@exercise("05-1", "multi-resolution fusion")
def check_multi_resolution_fusion(learner: Any) -> CheckResult:
    """Check ``learner(features, convs)`` against :func:`src.refinenet.multi_resolution_fusion`."""
    specs = [
        ([(1, 8, 4, 4), (1, 4, 8, 8)], 4),  # coarse then fine, even sizes
        ([(2, 6, 3, 5), (2, 4, 6, 9)], 4),  # odd sizes: 6x9 is not 2 x (3x5)
        ([(1, 4, 9, 7), (1, 6, 5, 4)], 4),  # fine first
        ([(1, 8, 2, 3), (1, 4, 4, 5), (1, 4, 7, 9)], 4),  # three paths
    ]
    cases = []
    for seed, (shapes, out_channels) in enumerate(specs):
        g = torch.Generator().manual_seed(200 + seed)
        features = [torch.randn(*s, generator=g) for s in shapes]
        cases.append(((features, _convs([s[1] for s in shapes], out_channels, 3, seed)), {}))
    with torch.no_grad():
        return run_check(
            "05-1",
            learner,
            cases,
            multi_resolution_fusion,
            hint=(
                "áp dụng convs[i] lên features[i], phóng to từng kết quả bằng F.interpolate(..., size=..., "
                "mode='bilinear', align_corners=False) tới đúng kích thước của bản đồ lớn nhất (không dùng "
                "scale_factor), rồi cộng tất cả.",
                "apply convs[i] to features[i], upsample each result with F.interpolate(..., size=..., "
                "mode='bilinear', align_corners=False) to the exact size of the largest map (not scale_factor), "
                "then add them all.",
            ),
        )
