"""Checks for lesson 06's exercises: Squeeze-and-Excitation (Hu et al., arXiv 1709.01507) and spatial SE
(scSE, Roy et al., arXiv 1803.02579); references in :mod:`src.se`."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..se import se_forward, se_parameter_overhead, spatial_se
from ._core import CheckResult, exercise, run_check
from ._hidden import register_hidden

__all__ = ["check_se_forward", "check_se_overhead", "check_spatial_se"]


def _se_cases_from(seed: int, shapes: list[tuple[int, int, int, int, int]]) -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(seed)
    cases = []
    for n, c, r, h, w in shapes:
        x = torch.randn(n, c, h, w, generator=g)
        w_down, b_down = torch.randn(c // r, c, generator=g), torch.randn(c // r, generator=g)
        w_up, b_up = torch.randn(c, c // r, generator=g), torch.randn(c, generator=g)
        cases.append(((x, w_down, b_down, w_up, b_up), {}))
    return cases


def _se_cases() -> list[tuple[tuple, dict]]:
    return _se_cases_from(6, [(2, 8, 2, 6, 6), (1, 16, 4, 12, 5), (3, 6, 3, 4, 9)])  # square and non-square maps


_SE_HINTS = (
    (
        "nén (squeeze): một số cho mỗi kênh, trung bình trên *toàn bộ* H x W; kích thích (excitation): hai "
        "lớp tuyến tính (giảm rồi tăng số kênh) với ReLU ở giữa và sigmoid ở cuối; rồi nhân mỗi kênh của x với "
        "cổng của nó.",
        "squeeze: one number per channel, the mean over the *whole* H x W; excitation: two linear layers (down "
        "then up in channels) with a ReLU between and a sigmoid at the end; then scale each channel of x by its "
        "gate.",
    ),
    (
        "x.mean((2, 3)) cho N x C — một cửa sổ vuông kích thước W sai khi bản đồ không vuông; w_down có dạng "
        "C' x C nên nhân với ma trận chuyển vị; cổng N x C cần thêm hai chiều cuối để nhân với x.",
        "x.mean((2, 3)) gives N x C — a square window of side W is wrong on a non-square map; w_down is C' x C "
        "so multiply by its transpose; the N x C gate needs two trailing dims to multiply x.",
    ),
)


@exercise("06-1", ("lượt truyền xuôi của SE", "SE forward"), cases=_se_cases)
def check_se_forward(learner: Callable) -> CheckResult:
    """``se_forward(x, w_down, b_down, w_up, b_up)``: squeeze, excite (ReLU, sigmoid), scale."""
    return run_check("06-1", learner, _se_cases, se_forward, hints=_SE_HINTS)


def _overhead_cases() -> list[tuple[tuple, dict]]:
    return [
        (([64], 16), {}),
        (([16, 32, 48, 64], 4), {}),
        (([8, 24], 16), {}),  # C // r = 0: the squeeze width is max(1, C // r)
        (([256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3, 16), {}),  # SE-ResNet-50
        (([20, 30], 8), {}),  # C / r is not an integer: C // r
        (([], 16), {}),  # no block, no parameter
    ]


_OVERHEAD_HINTS = (
    (
        "một khối SE là hai tích chập 1x1 *có bias*: C → C' rồi C' → C, với C' = max(1, C // r); đếm cả trọng "
        "số lẫn bias của cả hai, cộng trên mọi khối; kết quả là một số nguyên.",
        "an SE block is two 1x1 convolutions *with bias*: C → C' then C' → C, with C' = max(1, C // r); count "
        "the weights and the biases of both, summed over every block; the result is an integer.",
    ),
    (
        "tích chập C → C' có C·C' trọng số và C' bias; tích chập C' → C có C'·C trọng số và C bias; dùng phép "
        "chia lấy phần nguyên và đừng quên max(1, ...) khi C < r.",
        "the C → C' convolution has C·C' weights and C' biases; the C' → C one C'·C weights and C biases; use "
        "floor division and do not forget max(1, ...) when C < r.",
    ),
)


@exercise("06-2", ("số tham số SE thêm vào", "SE parameter overhead"), cases=_overhead_cases)
def check_se_overhead(learner: Callable) -> CheckResult:
    """``overhead(channels, reduction)``: extra parameters of the SE blocks of width ``channels`` (summed)."""
    return run_check("06-2", learner, _overhead_cases, se_parameter_overhead, rtol=0, atol=0, hints=_OVERHEAD_HINTS)


def _spatial_cases_from(seed: int, shapes: list[tuple[int, int, int, int]]) -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(seed)
    cases = []
    for n, c, h, w in shapes:
        x = torch.randn(n, c, h, w, generator=g)
        cases.append(((x, torch.randn(c, generator=g), torch.randn(1, generator=g) + 0.5), {}))
    return cases


def _spatial_cases() -> list[tuple[tuple, dict]]:
    return _spatial_cases_from(7, [(2, 4, 5, 5), (1, 8, 3, 10), (3, 2, 7, 4)])


_SPATIAL_HINTS = (
    (
        "SE không gian cho *mỗi điểm ảnh* một cổng (không phải mỗi kênh): một tích chập 1x1 xuống một kênh "
        "(tổng có trọng số các kênh, cộng bias), sigmoid, rồi nhân mọi kênh của điểm ảnh đó với cổng.",
        "spatial SE gives *each pixel* one gate (not each channel): a 1x1 convolution down to one channel (a "
        "weighted sum over the channels, plus the bias), a sigmoid, then every channel of that pixel is scaled.",
    ),
    (
        "q có dạng N x H x W: tổng theo chiều kênh của weight[c]·x[:, c] (torch.einsum hoặc nhân rồi sum(1)); "
        "nhân x với q đã thêm chiều kênh; sigmoid chứ không phải softmax.",
        "q has shape N x H x W: the sum over channels of weight[c]·x[:, c] (torch.einsum, or multiply then "
        "sum(1)); multiply x by q with a channel dim added; a sigmoid, not a softmax.",
    ),
)


@exercise("06-3", ("SE không gian", "spatial SE"), cases=_spatial_cases)
def check_spatial_se(learner: Callable) -> CheckResult:
    """``spatial_se(x, weight, bias)``: one sigmoid gate per pixel from a 1x1 conv to one channel."""
    return run_check("06-3", learner, _spatial_cases, spatial_se, hints=_SPATIAL_HINTS)


# ----------------------------------------------------------------------------- hidden cases (grader)
register_hidden(
    "06-1",
    "se_forward",
    lambda: _se_cases_from(6006, [(1, 12, 3, 7, 3), (2, 10, 5, 2, 8), (4, 4, 4, 3, 3)]),
    se_forward,
    forbidden=("src.se.se_forward", "src.se.SEBlock"),
    hint=_SE_HINTS[0],
)
register_hidden(
    "06-2",
    "se_overhead",
    lambda: [
        (([128, 256], 16), {}),
        (([3, 5, 7], 4), {}),
        (([100], 7), {}),
        (([64] * 3 + [128] * 4, 8), {}),
        (([1], 1), {}),
    ],
    se_parameter_overhead,
    rtol=0,
    atol=0,
    forbidden=("src.se.se_parameter_overhead",),
    hint=_OVERHEAD_HINTS[0],
)
register_hidden(
    "06-3",
    "spatial_se",
    lambda: _spatial_cases_from(6060, [(1, 3, 6, 2), (2, 6, 4, 4), (1, 1, 5, 7)]),
    spatial_se,
    forbidden=("src.se.spatial_se",),
    hint=_SPATIAL_HINTS[0],
)
