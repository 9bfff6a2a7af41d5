"""Checks for lesson 04's exercises: the fully-connected CRF of Krähenbühl & Koltun (arXiv 1210.5644),
as used by DeepLab (arXiv 1412.7062): the Potts compatibility transform and one mean-field step."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import crf
from ._core import CheckResult, exercise, run_check
from ._hidden import register_hidden

__all__ = ["check_mean_field_step", "check_potts_transform"]


def _messages(seed: int, c: int, n: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(c, n, generator=gen)


def _potts_cases() -> list[tuple[tuple, dict]]:
    return [
        ((_messages(0, 3, 5), 1.0), {}),
        ((_messages(1, 5, 40), 3.0), {}),
        ((_messages(2, 2, 7), 0.0), {}),
        ((_messages(3, 4, 1), 2.5), {}),  # one pixel: do not sum over the pixels
    ]


_POTTS_HINTS = (
    (
        "với mô hình Potts, nhãn l bị phạt bởi thông điệp của mọi nhãn *khác* l tại cùng điểm ảnh, nhân với "
        "trọng số; kết quả có cùng dạng C x N.",
        "with the Potts model, label l is penalised by the messages of every *other* label at the same pixel, "
        "times the weight; the result has the same C x N shape.",
    ),
    (
        "tổng trên các nhãn (chiều 0, giữ chiều) trừ đi chính thông điệp của nhãn l cho tổng các nhãn khác; "
        "đừng cộng theo chiều các điểm ảnh.",
        "the sum over labels (dim 0, keeping the dim) minus label l's own message gives the sum over the other "
        "labels; do not sum over the pixel dimension.",
    ),
)


@exercise("04-1", ("biến đổi tương thích Potts", "Potts compatibility transform"), cases=_potts_cases)
def check_potts_transform(learner: Callable[..., torch.Tensor]) -> CheckResult:
    """``learner(messages, weight)``: C x N messages -> C x N pairwise energies of the Potts model."""
    return run_check("04-1", learner, _potts_cases, crf.potts_transform, hints=_POTTS_HINTS)


def _step_case(seed: int, c: int, h: int, w: int, asymmetric: bool = False) -> tuple[tuple, dict]:
    gen = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (h, w, 3), generator=gen, dtype=torch.uint8)
    probs = torch.softmax(2 * torch.randn(c, h * w, generator=gen), 0)
    unary = crf.unary_from_probs(probs)
    q = torch.softmax(-unary, 0)
    kernels = [
        crf.gaussian_kernel_matrix(crf.pixel_features(image, 3.0)),
        crf.gaussian_kernel_matrix(crf.pixel_features(image, 8.0, 13.0)),
    ]
    if asymmetric:  # row-normalised: K is not K.T, so the message direction matters
        raw = crf.gaussian_kernel_matrix(crf.pixel_features(image, 2.0, 20.0), normalize=False)
        kernels[1] = raw / raw.sum(1, keepdim=True)
    return (unary, q, kernels, [3.0, 10.0]), {}


def _step_cases() -> list[tuple[tuple, dict]]:
    return [_step_case(0, 3, 6, 5), _step_case(1, 4, 9, 8), _step_case(2, 2, 4, 4), _step_case(3, 3, 5, 4, True)]


_STEP_HINTS = (
    (
        "bốn bước: truyền thông điệp (mỗi nhân làm mượt Q), biến đổi tương thích Potts có trọng số, cộng các "
        "nhân lại rồi cập nhật cục bộ −unary − pairwise, cuối cùng chuẩn hoá theo các nhãn.",
        "four steps: message passing (each kernel smooths Q), the weighted Potts compatibility transform, add "
        "the kernels up and do the local update −unary − pairwise, then normalise over the labels.",
    ),
    (
        "thông điệp tại điểm ảnh i là Σ_j K[i, j]·Q[:, j], tức q @ K.T với q dạng C x N; softmax theo dim=0 "
        "(các nhãn), không theo các điểm ảnh; cả hai nhân đều phải được dùng với trọng số của chúng.",
        "the message at pixel i is Σ_j K[i, j]·Q[:, j], i.e. q @ K.T with q of shape C x N; softmax over dim=0 "
        "(the labels), not over the pixels; both kernels must be used, each with its weight.",
    ),
)


@exercise(
    "04-2",
    ("một bước trường trung bình (nhân chính xác)", "one mean-field iteration (exact kernel)"),
    cases=_step_cases,
)
def check_mean_field_step(learner: Callable[..., torch.Tensor]) -> CheckResult:
    """``learner(unary, q, kernels, weights)`` -> the new C x N marginals after one mean-field iteration."""
    return run_check("04-2", learner, _step_cases, crf.mean_field_step, hints=_STEP_HINTS, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- hidden cases (grader)
def _hidden_potts_cases() -> list[tuple[tuple, dict]]:
    return [
        ((_messages(40, 4, 9), 2.0), {}),
        ((_messages(41, 6, 3), 0.5), {}),
        ((_messages(42, 2, 1), 7.0), {}),
        ((_messages(43, 3, 25) * 10, 1.0), {}),
    ]


def _hidden_step_cases() -> list[tuple[tuple, dict]]:
    return [_step_case(44, 3, 4, 7), _step_case(45, 5, 6, 6, True), _step_case(46, 2, 3, 8, True)]


register_hidden(
    "04-1",
    "potts_transform",
    _hidden_potts_cases,
    crf.potts_transform,
    forbidden=("src.crf.potts_transform",),
    hint=_POTTS_HINTS[0],
)
register_hidden(
    "04-2",
    "mean_field_step",
    _hidden_step_cases,
    crf.mean_field_step,
    forbidden=("src.crf.mean_field_step", "src.crf.dense_crf"),
    hint=_STEP_HINTS[0],
)
