"""Pyramid pooling and PSPNet (lesson 03; used by lesson 07).

Zhao et al., "Pyramid Scene Parsing Network", arXiv 1612.01105. The pyramid
pooling module average-pools the feature map into ``bins`` x ``bins`` grids
(1, 2, 3, 6), reduces each to ``in_channels / len(bins)`` channels with a 1x1
conv + BN + ReLU, upsamples every level back bilinearly and concatenates them
with the input: a pixel sees the whole image (bin 1) and its quadrant, third,
sixth of it. PSPNet puts it on a dilated backbone (output stride 8), followed
by a 3x3 conv + BN + ReLU, dropout and a 1x1 classifier. As in
:mod:`src.aspp`, the 1x1-bin branch uses :class:`~src.aspp.PoolingBatchNorm`
so that training at batch size 1 works. ``PyramidPooling`` ends in an
attention slot (``self.attention``, filled by ``src.se.add_se(..., "decoder")``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_int, check_int_sequence, check_number, checking
from .aspp import PoolingBatchNorm
from .i18n import check_feature_map
from .registry import register_capstone
from .se import attention_slot
from .segmodel import ClassifierHead, SegmentationModel

__all__ = ["PSPNet", "PyramidPooling"]


class PyramidPooling(nn.Module):
    """PSPNet's pyramid pooling module; output has ``in_channels + len(bins) * (in_channels // len(bins))`` channels."""

    def __init__(
        self, in_channels: int, bins: Sequence[int] = (1, 2, 3, 6), reduction_channels: int | None = None
    ) -> None:
        super().__init__()
        check_int("PyramidPooling", "in_channels", in_channels, 1)
        bins = check_int_sequence("PyramidPooling", "bins", bins, 1, "(1, 2, 3, 6)")
        reduced = reduction_channels or max(1, in_channels // len(bins))
        self.in_channels, self.bins = in_channels, tuple(bins)
        self.stages = nn.ModuleList(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(b),
                nn.Conv2d(in_channels, reduced, 1, bias=False),
                PoolingBatchNorm(reduced) if b == 1 else nn.BatchNorm2d(reduced),
                nn.ReLU(),
            )
            for b in self.bins
        )
        self.out_channels = in_channels + len(self.bins) * reduced
        self.attention = attention_slot(self.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if checking():  # called directly; inside a model the input was checked once
            check_feature_map("PyramidPooling.forward", x, self.in_channels)
        size = x.shape[-2:]
        levels = [F.interpolate(stage(x), size=size, mode="bilinear", align_corners=False) for stage in self.stages]
        return self.attention(torch.cat([x, *levels], dim=1))


class PSPHead(ClassifierHead):
    """Pyramid pooling, 3x3 conv + BN + ReLU, dropout, 1x1 classifier (an attention slot before it)."""

    def __init__(self, in_channels: int, num_classes: int, bins: Sequence[int], channels: int, dropout: float) -> None:
        ppm = PyramidPooling(in_channels, bins)
        super().__init__(
            ppm,
            nn.Conv2d(ppm.out_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Conv2d(channels, num_classes, 1),
            channels=channels,
        )


class PSPNet(SegmentationModel):
    """PSPNet: backbone (output stride 8 by default) + pyramid pooling head + bilinear upsampling; returns logits.

    ``PSPNet(num_classes, backbone="tiny", *, output_stride=8, channels=512, se=False, multi_grid=None,
    bins=(1, 2, 3, 6), dropout=0.1)``, as every :class:`src.segmodel.SegmentationModel`
    (``num_classes=1`` for one logit, ``se`` for lesson 06); ``channels`` is the
    width after the pyramid (512 in the paper's ResNet models).
    """

    default_output_stride = 8
    default_channels = 512
    head_options: ClassVar[dict[str, Any]] = {"bins": (1, 2, 3, 6), "dropout": 0.1}

    def build_head(self, stages: dict[str, int], bins: Sequence[int], dropout: float) -> nn.Module:
        check_number("PSPNet", "dropout", dropout, 0.0, 1.0)
        return PSPHead(stages["layer4"], self.num_classes, bins, self.channels, dropout)


@register_capstone("pspnet", "PSPNet", "03")
def capstone_pspnet(num_classes: int, se: bool | str = False, output_stride: int = 8) -> PSPNet:
    """Lesson 07's PSPNet: the tiny backbone, a 64-channel pyramid pooling head."""
    return PSPNet(num_classes, "tiny", output_stride=output_stride, channels=64, se=se)
