"""Checks for lesson 03's exercises (ASPP forward, image-pooling branch, Dice loss)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from ..aspp import ASPP, ASPPPooling
from ..losses import dice_loss
from ._core import CheckResult, exercise, run_check

__all__ = ["check_aspp_forward", "check_dice_loss", "check_image_pooling"]


def _random_bn(bn: nn.BatchNorm2d, g: torch.Generator) -> nn.BatchNorm2d:
    bn.running_mean.copy_(torch.randn(bn.num_features, generator=g) * 0.3)
    bn.running_var.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
    bn.weight.data.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
    bn.bias.data.copy_(torch.randn(bn.num_features, generator=g) * 0.2)
    return bn.eval()


def _aspp(in_channels: int, rates: tuple[int, ...], out_channels: int, pooling: bool, seed: int) -> ASPP:
    with torch.random.fork_rng():  # do not disturb the notebook's random state
        torch.manual_seed(seed)
        aspp = ASPP(in_channels, rates, out_channels, image_pooling=pooling)
    g = torch.Generator().manual_seed(seed)
    for m in aspp.modules():
        if isinstance(m, nn.BatchNorm2d):
            _random_bn(m, g)
    return aspp.eval()


@exercise("03-1", ("lượt truyền xuôi của ASPP", "ASPP forward"))
def check_aspp_forward(learner: Callable[..., Any]) -> CheckResult:
    """``learner(aspp, x)``: run every branch of ``aspp.convs`` on x, concatenate on channels, ``aspp.project``."""
    g = torch.Generator().manual_seed(3)
    cases = [
        ((_aspp(8, (1, 2, 3), 4, True, 0), torch.randn(2, 8, 9, 9, generator=g)), {}),
        ((_aspp(6, (2, 5), 3, False, 1), torch.randn(1, 6, 7, 10, generator=g)), {}),
        ((_aspp(4, (6, 12, 18), 5, True, 2), torch.randn(3, 4, 20, 20, generator=g)), {}),  # rates < side
    ]
    with torch.no_grad():
        return run_check(
            "03-1",
            learner,
            cases,
            reference=lambda aspp, x: aspp(x),
            hint=(
                "`torch.cat([branch(x) for branch in aspp.convs], dim=1)`, rồi đưa qua `aspp.project`.",
                "`torch.cat([branch(x) for branch in aspp.convs], dim=1)`, then through `aspp.project`.",
            ),
            atol=1e-5,
        )


def _pooling_reference(x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
    branch = ASPPPooling(conv.in_channels, conv.out_channels)
    branch[1].load_state_dict(conv.state_dict())
    branch[2].load_state_dict(bn.state_dict())
    return branch.eval()(x)


@exercise("03-2", ("nhánh đặc trưng mức ảnh", "image-pooling branch"))
def check_image_pooling(learner: Callable[..., Any]) -> CheckResult:
    """``learner(x, conv, bn)``: global average pooling, 1x1 ``conv``, ``bn``, ReLU, bilinear upsampling to x's size."""
    g = torch.Generator().manual_seed(4)
    cases = []
    for seed, (n, c, o, h, w) in enumerate([(2, 8, 4, 6, 6), (1, 5, 3, 7, 11), (3, 4, 6, 1, 1)]):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            conv = nn.Conv2d(c, o, 1, bias=False)
        bn = _random_bn(nn.BatchNorm2d(o), g)
        cases.append(((torch.randn(n, c, h, w, generator=g), conv, bn), {}))
    with torch.no_grad():
        return run_check(
            "03-2",
            learner,
            cases,
            reference=_pooling_reference,
            hint=(
                "`x.mean((2, 3), keepdim=True)` → `conv` → `bn` → `relu` → "
                "`F.interpolate(..., size=x.shape[-2:], mode='bilinear', align_corners=False)`.",
                "`x.mean((2, 3), keepdim=True)` → `conv` → `bn` → `relu` → "
                "`F.interpolate(..., size=x.shape[-2:], mode='bilinear', align_corners=False)`.",
            ),
        )


@exercise("03-3", ("hàm mất mát Dice", "Dice loss"))
def check_dice_loss(learner: Callable[..., Any]) -> CheckResult:
    """``learner(logits, target, smooth=1.0)``: multi-class soft Dice loss (softmax; sums over batch and pixels)."""
    g = torch.Generator().manual_seed(5)
    cases = [
        ((torch.randn(2, 3, 4, 5, generator=g), torch.randint(0, 3, (2, 4, 5), generator=g)), {}),
        ((torch.randn(1, 4, 6, 6, generator=g) * 3, torch.randint(0, 4, (1, 6, 6), generator=g)), {"smooth": 0.0}),
        ((torch.randn(3, 2, 3, 3, generator=g), torch.zeros(3, 3, 3, dtype=torch.long)), {"smooth": 1.0}),
    ]
    return run_check(
        "03-3",
        learner,
        cases,
        reference=lambda logits, target, smooth=1.0: dice_loss(logits, target, smooth=smooth),
        hint=(
            "p = softmax theo kênh, g = one-hot của nhãn (N x C x H x W); với mỗi lớp, cộng trên các chiều (0, 2, 3): "
            "Dice = (2·Σpg + s)/(Σp + Σg + s); mất mát = 1 − trung bình các lớp.",
            "p = softmax over channels, g = one-hot labels (N x C x H x W); per class, sum over dims (0, 2, 3): "
            "Dice = (2·Σpg + s)/(Σp + Σg + s); loss = 1 − mean over classes.",
        ),
    )
