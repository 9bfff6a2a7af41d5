"""Checks for lesson 05's exercises (RefineNet, Lin et al., arXiv 1611.06612): multi-resolution fusion and
chained residual pooling."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ..refinenet import chained_residual_pooling, multi_resolution_fusion
from ._core import CheckResult, exercise, run_check
from ._hidden import register_hidden, to_plain

__all__ = ["check_chained_residual_pooling", "check_multi_resolution_fusion"]


def _convs(channels_in: list[int], channels_out: int, kernel_size: int, seed: int) -> nn.ModuleList:
    with torch.random.fork_rng():  # do not disturb the notebook's random state
        torch.manual_seed(seed)
        return nn.ModuleList(
            nn.Conv2d(c, channels_out, kernel_size, padding=kernel_size // 2, bias=False) for c in channels_in
        )


def _no_grad(fn: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        with torch.no_grad():
            return fn(*args, **kwargs)

    return call


def _hidden_call(obj: Any, args: tuple, kwargs: dict) -> Any:
    with torch.no_grad():
        return to_plain(obj(*args, **kwargs))


def _crp_cases_from(seed: int, specs: list[tuple[tuple[int, ...], int, int]]) -> list[tuple[tuple, dict]]:
    cases = []
    g = torch.Generator().manual_seed(seed)
    for offset, (shape, blocks, k) in enumerate(specs):
        x = torch.randn(*shape, generator=g)
        cases.append(((x, _convs([shape[1]] * blocks, shape[1], k, seed + offset)), {}))
    return cases


def _crp_cases() -> list[tuple[tuple, dict]]:
    return _crp_cases_from(
        100, [((1, 4, 9, 9), 1, 3), ((2, 3, 12, 7), 2, 3), ((1, 5, 11, 13), 4, 3), ((1, 6, 8, 5), 4, 1)]
    )


_CRP_HINTS = (
    (
        "bắt đầu từ ReLU của x; mỗi khối gộp cực đại (5 x 5, bước trượt 1, giữ kích thước) rồi tích chập đầu ra "
        "của khối *trước* (một chuỗi), và mọi đầu ra được cộng dồn vào tổng, kể cả ReLU(x) ban đầu.",
        "start from the ReLU of x; each block max-pools (5 x 5, stride 1, size kept) then convolves the output "
        "of the *previous* block (a chain), and every output is added to a running sum, ReLU(x) included.",
    ),
    (
        "giữ hai biến: path (đầu ra của khối gần nhất, bắt đầu bằng ReLU(x)) và tổng; đừng gộp lại x ban đầu ở "
        "mỗi khối, và dùng padding=2 để kích thước không đổi.",
        "keep two variables: path (the latest block's output, starting as ReLU(x)) and the sum; do not pool the "
        "original x again in every block, and use padding=2 so the size is unchanged.",
    ),
)


@exercise("05-2", ("gộp phần dư chuỗi", "chained residual pooling"), cases=_crp_cases)
def check_chained_residual_pooling(learner: Any) -> CheckResult:
    """Check ``learner(x, convs)`` against :func:`src.refinenet.chained_residual_pooling`."""
    return run_check("05-2", _signed(learner), _crp_cases, _no_grad(chained_residual_pooling), hints=_CRP_HINTS)


def _signed(learner: Any) -> Any:
    """The learner's function called under no_grad, keeping its signature for the inputs shown in a verdict."""
    if not callable(learner):
        return learner
    wrapper = _no_grad(learner)
    try:
        import inspect

        wrapper.__signature__ = inspect.signature(learner)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        pass
    return wrapper


def _fusion_cases_from(seed: int, specs: list[tuple[list[tuple[int, ...]], int]]) -> list[tuple[tuple, dict]]:
    cases = []
    g = torch.Generator().manual_seed(seed)
    for offset, (shapes, out_channels) in enumerate(specs):
        features = [torch.randn(*s, generator=g) for s in shapes]
        cases.append(((features, _convs([s[1] for s in shapes], out_channels, 3, seed + offset)), {}))
    return cases


def _fusion_cases() -> list[tuple[tuple, dict]]:
    return _fusion_cases_from(
        200,
        [
            ([(1, 8, 4, 4), (1, 4, 8, 8)], 4),  # coarse then fine, even sizes
            ([(2, 6, 3, 5), (2, 4, 6, 9)], 4),  # odd sizes: 6x9 is not 2 x (3x5)
            ([(1, 4, 9, 7), (1, 6, 5, 4)], 4),  # fine first
            ([(1, 8, 2, 3), (1, 4, 4, 5), (1, 4, 7, 9)], 4),  # three paths
            ([(1, 3, 4, 10), (1, 5, 6, 6)], 2),  # the most pixels (40) is neither the tallest nor the first
        ],
    )


_FUSION_HINTS = (
    (
        "mỗi đường vào qua tích chập của riêng nó, rồi được phóng to (nội suy song tuyến) tới kích thước của bản "
        "đồ có *nhiều điểm ảnh nhất* — kích thước chính xác, không phải một hệ số phóng — rồi cộng tất cả lại.",
        "each path goes through its own convolution, is upsampled (bilinear) to the size of the map with the "
        "*most pixels* — the exact size, not a scale factor — and all are added up.",
    ),
    (
        "chọn kích thước đích bằng max theo H·W trên x.shape[-2:] của các đặc trưng (không giả định nó là đường "
        "vào đầu tiên hay cuối cùng); F.interpolate(..., size=đích, mode='bilinear', align_corners=False).",
        "pick the target size by the max of H·W over the features' x.shape[-2:] (do not assume it is the first "
        "or the last path); F.interpolate(..., size=target, mode='bilinear', align_corners=False).",
    ),
)


@exercise("05-1", ("hợp nhất đa độ phân giải", "multi-resolution fusion"), cases=_fusion_cases)
def check_multi_resolution_fusion(learner: Any) -> CheckResult:
    """Check ``learner(features, convs)`` against :func:`src.refinenet.multi_resolution_fusion`."""
    return run_check("05-1", _signed(learner), _fusion_cases, _no_grad(multi_resolution_fusion), hints=_FUSION_HINTS)


# ----------------------------------------------------------------------------- hidden cases (grader)
def _hidden_crp_cases() -> list[tuple[tuple, dict]]:
    return _crp_cases_from(
        5100, [((2, 3, 7, 7), 3, 3), ((1, 4, 6, 10), 2, 1), ((3, 2, 5, 5), 1, 3), ((1, 5, 9, 4), 4, 3)]
    )


def _hidden_fusion_cases() -> list[tuple[tuple, dict]]:
    return _fusion_cases_from(
        5200,
        [
            ([(2, 5, 5, 5), (2, 3, 10, 10)], 3),
            ([(1, 4, 7, 11), (1, 6, 3, 5), (1, 2, 2, 2)], 5),
            ([(1, 3, 12, 2), (1, 3, 5, 5)], 2),  # 25 pixels beat 24
            ([(1, 6, 3, 3)], 4),  # a single path
        ],
    )


register_hidden(
    "05-1",
    "multi_resolution_fusion",
    _hidden_fusion_cases,
    _no_grad(multi_resolution_fusion),
    call=_hidden_call,
    forbidden=("src.refinenet.multi_resolution_fusion", "src.refinenet.MultiResolutionFusion"),
    hint=_FUSION_HINTS[0],
)
register_hidden(
    "05-2",
    "chained_residual_pooling",
    _hidden_crp_cases,
    _no_grad(chained_residual_pooling),
    call=_hidden_call,
    forbidden=("src.refinenet.chained_residual_pooling", "src.refinenet.ChainedResidualPooling"),
    hint=_CRP_HINTS[0],
)
