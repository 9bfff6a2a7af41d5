"""Checks for lesson 04's exercises (the fully-connected CRF, :mod:`src.crf`)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import crf
from ._core import CheckResult, exercise, run_check

__all__ = ["check_mean_field_step", "check_potts_transform"]


def _messages(seed: int, c: int, n: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(c, n, generator=gen)


@exercise("04-1", "Potts compatibility transform")
def check_potts_transform(learner: Callable[..., torch.Tensor]) -> CheckResult:
    """``learner(messages, weight)``: C x N messages -> C x N pairwise energies of the Potts model."""
    cases = [
        ((_messages(0, 3, 5), 1.0), {}),
        ((_messages(1, 5, 40), 3.0), {}),
        ((_messages(2, 2, 7), 0.0), {}),
    ]
    return run_check(
        "04-1",
        learner,
        cases,
        crf.potts_transform,
        hint=(
            "với Potts, nhãn l bị phạt bởi tổng thông điệp của mọi nhãn khác l: "
            "weight * (messages.sum(0, keepdim=True) - messages).",
            "with Potts, label l is penalised by the messages of every label other than l: "
            "weight * (messages.sum(0, keepdim=True) - messages).",
        ),
    )


def _step_case(seed: int, c: int, h: int, w: int) -> tuple[tuple, dict]:
    gen = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (h, w, 3), generator=gen, dtype=torch.uint8)
    probs = torch.softmax(2 * torch.randn(c, h * w, generator=gen), 0)
    unary = crf.unary_from_probs(probs)
    q = torch.softmax(-unary, 0)
    kernels = [
        crf.gaussian_kernel_matrix(crf.pixel_features(image, 3.0)),
        crf.gaussian_kernel_matrix(crf.pixel_features(image, 8.0, 13.0)),
    ]
    return (unary, q, kernels, [3.0, 10.0]), {}


@exercise("04-2", "one mean-field iteration (exact kernel)")
def check_mean_field_step(learner: Callable[..., torch.Tensor]) -> CheckResult:
    """``learner(unary, q, kernels, weights)`` -> the new C x N marginals after one mean-field iteration."""
    cases = [_step_case(0, 3, 6, 5), _step_case(1, 4, 9, 8), _step_case(2, 2, 4, 4)]
    return run_check(
        "04-2",
        learner,
        cases,
        crf.mean_field_step,
        hint=(
            "với mỗi nhân K: thông điệp = q @ K.T; cộng các phép biến đổi Potts (có trọng số) lại; "
            "rồi softmax(-unary - pairwise, dim=0) theo các nhãn.",
            "for each kernel K: messages = q @ K.T; add up the (weighted) Potts transforms; "
            "then softmax(-unary - pairwise, dim=0) over the labels.",
        ),
        rtol=1e-4,
        atol=1e-5,
    )
