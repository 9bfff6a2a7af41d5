"""Checks for lesson 06's exercises (Squeeze-and-Excitation; references in :mod:`src.se`)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..se import se_forward, se_parameter_overhead, spatial_se
from ._core import CheckResult, exercise, run_check

__all__ = ["check_se_forward", "check_se_overhead", "check_spatial_se"]


def _se_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(6)
    cases = []
    for n, c, r, h, w in [(2, 8, 2, 6, 6), (1, 16, 4, 12, 5), (3, 6, 3, 4, 9)]:  # square and non-square maps
        x = torch.randn(n, c, h, w, generator=g)
        w_down, b_down = torch.randn(c // r, c, generator=g), torch.randn(c // r, generator=g)
        w_up, b_up = torch.randn(c, c // r, generator=g), torch.randn(c, generator=g)
        cases.append(((x, w_down, b_down, w_up, b_up), {}))
    return cases


@exercise("06-1", "SE forward")
def check_se_forward(learner: Callable) -> CheckResult:
    """``se_forward(x, w_down, b_down, w_up, b_up)``: squeeze, excite (ReLU, sigmoid), scale."""
    return run_check(
        "06-1",
        learner,
        _se_cases(),
        se_forward,
        hint=(
            "squeeze = trung bình trên cả H và W (x.mean((2, 3))) — đừng dùng cửa sổ vuông; "
            "cổng = sigmoid(W_up · relu(W_down · s + b_down) + b_up), rồi nhân x với cổng theo từng kênh.",
            "squeeze = the mean over both H and W (x.mean((2, 3))) — not a square window; "
            "gate = sigmoid(W_up · relu(W_down · s + b_down) + b_up), then multiply x by the gate channel-wise.",
        ),
    )


@exercise("06-2", "SE parameter overhead")
def check_se_overhead(learner: Callable) -> CheckResult:
    """``overhead(channels, reduction)``: extra parameters of one SE block per entry of ``channels``."""
    cases = [
        (([64], 16), {}),
        (([16, 32, 48, 64], 4), {}),
        (([8, 24], 16), {}),  # C // r = 0: the squeeze width is max(1, C // r)
        (([256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3, 16), {}),
    ]
    return run_check(
        "06-2",
        learner,
        cases,
        se_parameter_overhead,
        rtol=0,
        atol=0,
        hint=(
            "mỗi khối: hai phép tích chập 1x1 có bias, C → max(1, C // r) → C, tức 2·C·C' + C' + C tham số.",
            "each block: two 1x1 convolutions with bias, C → max(1, C // r) → C, i.e. 2·C·C' + C' + C parameters.",
        ),
    )


@exercise("06-3", "spatial SE")
def check_spatial_se(learner: Callable) -> CheckResult:
    """``spatial_se(x, weight, bias)``: one sigmoid gate per pixel from a 1x1 conv to one channel."""
    g = torch.Generator().manual_seed(7)
    cases = []
    for n, c, h, w in [(2, 4, 5, 5), (1, 8, 3, 10), (3, 2, 7, 4)]:
        x = torch.randn(n, c, h, w, generator=g)
        cases.append(((x, torch.randn(c, generator=g), torch.randn(1, generator=g)), {}))
    return run_check(
        "06-3",
        learner,
        cases,
        spatial_se,
        hint=(
            "q[n, h, w] = sigmoid(Σ_c weight[c] · x[n, c, h, w] + bias) (thử torch.einsum), rồi trả về x * q[:, None].",
            "q[n, h, w] = sigmoid(Σ_c weight[c] · x[n, c, h, w] + bias) (try torch.einsum), then return x * q[:, None].",
        ),
    )
