"""Checks for lesson 08's exercises: structural re-parameterisation (RepVGG, Ding et al., arXiv 2101.03697).

08-1 ``fuse_bn(kernel, gamma, beta, running_mean, running_var, eps)``: an eval-mode BN folded into the conv
before it; 08-2 ``merge_branches(k3, b3, k1, b1, id_scale, id_bias, groups)``: the 3x3, 1x1 and identity
branches (each with its BN already folded) as one 3x3 kernel and bias. The references are built on
:mod:`src.repvgg` (``fuse_conv_bn``, ``pad_1x1_to_3x3``); ``tests/test_checks_l08.py`` pins them against
:meth:`src.repvgg.RepVGGBlock.equivalent_kernel_bias`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from ..repvgg import fuse_conv_bn, pad_1x1_to_3x3
from ._core import CheckResult, exercise, run_check
from ._hidden import register_hidden

__all__ = ["check_fuse_bn", "check_merge_branches", "fuse_bn_reference", "merge_branches_reference"]


def fuse_bn_reference(
    kernel: torch.Tensor,
    gamma: torch.Tensor,
    beta: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(W * gamma / sqrt(var + eps), beta - mean * gamma / sqrt(var + eps))`` via :func:`src.repvgg.fuse_conv_bn`."""
    bn = nn.BatchNorm2d(kernel.shape[0], eps=eps).to(kernel.dtype)
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
        bn.running_mean.copy_(running_mean)
        bn.running_var.copy_(running_var)
    with torch.no_grad():
        w, b = fuse_conv_bn(kernel, bn.eval())
    return w.detach().clone(), b.detach().clone()


def merge_branches_reference(
    k3: torch.Tensor,
    b3: torch.Tensor,
    k1: torch.Tensor,
    b1: torch.Tensor,
    id_scale: torch.Tensor | None = None,
    id_bias: torch.Tensor | None = None,
    groups: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One 3x3 kernel and bias = 3x3 branch + 1x1 branch (zero-padded to the centre) + identity (if given).

    The identity of a grouped convolution (``groups`` > 1, kernel ``C x C/groups x 3 x 3``) is a 1 at the
    centre tap of output channel ``i``, input channel ``i % (C / groups)`` of its group, times ``id_scale[i]``.
    """
    kernel = k3 + pad_1x1_to_3x3(k1)
    bias = b3 + b1
    if id_scale is not None:
        channels, per_group = k3.shape[0], k3.shape[1]
        identity = torch.zeros_like(k3)
        rows = torch.arange(channels)
        identity[rows, rows % per_group, 1, 1] = 1.0
        kernel = kernel + identity * id_scale.reshape(-1, 1, 1, 1)
        bias = bias + id_bias
    return kernel, bias


# ----------------------------------------------------------------------------- 08-1 fuse BN into a conv
def _fuse_cases_from(seed: int, shapes: list[tuple[int, int, int, float]]) -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(seed)
    cases = []
    for c_out, c_in, k, eps in shapes:
        kernel = torch.randn(c_out, c_in, k, k, generator=g)
        gamma = torch.rand(c_out, generator=g) + 0.5
        beta = torch.randn(c_out, generator=g)
        mean = torch.randn(c_out, generator=g)
        var = 0.01 + 0.5 * torch.rand(c_out, generator=g)  # small variances: eps and the sqrt both matter
        cases.append(((kernel, gamma, beta, mean, var, eps), {}))
    return cases


def _fuse_cases() -> list[tuple[tuple, dict]]:
    return _fuse_cases_from(8, [(4, 3, 3, 1e-5), (6, 2, 1, 0.1), (3, 5, 3, 0.05)])


_FUSE_HINTS = (
    (
        "ở chế độ eval, BN là một phép co giãn và dịch theo từng kênh *ra*: y = gamma (z - mean) / sqrt(var + eps) "
        "+ beta; với z = W * x, gộp hệ số gamma / sqrt(var + eps) vào W và phần còn lại vào bias.",
        "in eval mode BN is a per-*output*-channel scale and shift: y = gamma (z - mean) / sqrt(var + eps) + beta; "
        "with z = W * x, fold gamma / sqrt(var + eps) into W and the rest into a bias.",
    ),
    (
        "std = (running_var + eps).sqrt() — eps nằm *trong* căn, và đừng quên căn; nhân W với (gamma / std) đã "
        "reshape(-1, 1, 1, 1) (trục 0 là kênh ra); bias = beta - running_mean * gamma / std.",
        "std = (running_var + eps).sqrt() — eps goes *inside* the root, and do not forget the root; multiply W by "
        "(gamma / std).reshape(-1, 1, 1, 1) (axis 0 is the output channel); bias = beta - running_mean * gamma / std.",
    ),
)


@exercise("08-1", ("gộp BN vào tích chập", "fusing BN into a conv"), cases=_fuse_cases)
def check_fuse_bn(learner: Callable) -> CheckResult:
    """``fuse_bn(kernel, gamma, beta, running_mean, running_var, eps)`` -> ``(kernel', bias')``."""
    return run_check("08-1", learner, _fuse_cases, fuse_bn_reference, hints=_FUSE_HINTS)


# ----------------------------------------------------------------------------- 08-2 merge the three branches
def _merge_cases_from(seed: int, shapes: list[tuple[int, int, bool, int]]) -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(seed)
    cases = []
    for c_out, c_in, identity, groups in shapes:
        per_group = c_in // groups
        k3 = torch.randn(c_out, per_group, 3, 3, generator=g)
        k1 = torch.randn(c_out, per_group, 1, 1, generator=g)
        b3, b1 = torch.randn(c_out, generator=g), torch.randn(c_out, generator=g)
        if identity:
            scale, shift = torch.rand(c_out, generator=g) + 0.5, torch.randn(c_out, generator=g)
            cases.append(((k3, b3, k1, b1, scale, shift), {"groups": groups}))
        else:
            cases.append(((k3, b3, k1, b1, None, None), {"groups": groups}))
    return cases


def _merge_cases() -> list[tuple[tuple, dict]]:
    # with the identity (C -> C), without it (C_in != C_out, or stride 2), and a grouped conv (RepVGG-B*g*)
    return _merge_cases_from(9, [(4, 4, True, 1), (5, 3, False, 1), (6, 6, True, 2), (3, 3, True, 1)])


_MERGE_HINTS = (
    (
        "mọi nhánh là tuyến tính, nên tổng của chúng là một tích chập 3x3 duy nhất: nhân 1x1 là một nhân 3x3 chỉ "
        "khác 0 ở *tâm*; nhánh đồng nhất là một nhân 3x3 có số 1 ở tâm, chỉ nối kênh i với chính nó; các bias cộng "
        "lại.",
        "every branch is linear, so their sum is one 3x3 convolution: a 1x1 kernel is a 3x3 kernel that is zero "
        "except at the *centre*; the identity is a 3x3 kernel with a 1 at the centre linking channel i to itself "
        "only; the biases add up.",
    ),
    (
        "F.pad(k1, [1, 1, 1, 1]) đặt nhân 1x1 vào tâm (không phải góc); nhân đồng nhất: zeros_like(k3) rồi "
        "kernel[i, i % (C // groups), 1, 1] = id_scale[i]; khi id_scale là None thì không có nhánh đồng nhất.",
        "F.pad(k1, [1, 1, 1, 1]) puts the 1x1 at the centre (not in a corner); the identity: zeros_like(k3) then "
        "kernel[i, i % (C // groups), 1, 1] = id_scale[i]; when id_scale is None there is no identity branch.",
    ),
)


@exercise("08-2", ("gộp ba nhánh thành một nhân 3x3", "merging the three branches"), cases=_merge_cases)
def check_merge_branches(learner: Callable) -> CheckResult:
    """``merge_branches(k3, b3, k1, b1, id_scale, id_bias, groups=1)`` -> ``(kernel, bias)`` of one 3x3 conv."""
    return run_check("08-2", learner, _merge_cases, merge_branches_reference, hints=_MERGE_HINTS)


# ----------------------------------------------------------------------------- hidden cases (grader)
register_hidden(
    "08-1",
    "fuse_bn",
    lambda: _fuse_cases_from(8008, [(5, 4, 3, 1e-3), (2, 7, 1, 0.2), (8, 1, 3, 0.02), (1, 1, 5, 1e-5)]),
    fuse_bn_reference,
    forbidden=("src.repvgg.fuse_conv_bn", "src.checks.l08.fuse_bn_reference"),
    hint=_FUSE_HINTS[0],
)
register_hidden(
    "08-2",
    "merge_branches",
    lambda: _merge_cases_from(8080, [(8, 8, True, 4), (2, 6, False, 1), (7, 7, True, 1), (4, 4, False, 2)]),
    merge_branches_reference,
    forbidden=("src.repvgg.pad_1x1_to_3x3", "src.checks.l08.merge_branches_reference"),
    hint=_MERGE_HINTS[0],
)
