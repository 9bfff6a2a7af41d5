"""Pyramid pooling and PSPNet (lesson 03; used by lesson 07).

Zhao et al., "Pyramid Scene Parsing Network", arXiv 1612.01105. The pyramid
pooling module average-pools the feature map into ``bins`` x ``bins`` grids
(1, 2, 3, 6), reduces each to ``in_channels / len(bins)`` channels with a 1x1
conv + BN + ReLU, upsamples every level back bilinearly and concatenates them
with the input: a pixel sees the whole image (bin 1) and its quadrant, third,
sixth of it. PSPNet puts it on a dilated backbone (output stride 8), followed
by a 3x3 conv + BN + ReLU, dropout and a 1x1 classifier. As in
:mod:`src.aspp`, the 1x1-bin branch uses :class:`~src.aspp.PoolingBatchNorm`
so that training at batch size 1 works.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .aspp import PoolingBatchNorm
from .deeplab import _check_num_classes, apply_se, resolve_backbone, set_bn_momentum
from .i18n import bad_argument, check_feature_map

__all__ = ["PSPNet", "PyramidPooling"]


class PyramidPooling(nn.Module):
    """PSPNet's pyramid pooling module; output has ``in_channels + len(bins) * (in_channels // len(bins))`` channels."""

    def __init__(
        self, in_channels: int, bins: Sequence[int] = (1, 2, 3, 6), reduction_channels: int | None = None
    ) -> None:
        super().__init__()
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise bad_argument("PyramidPooling", "in_channels", "một số nguyên >= 1", "an integer >= 1", in_channels)
        if (
            isinstance(bins, (str, bytes))
            or not isinstance(bins, Sequence)
            or len(bins) == 0
            or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in bins)
        ):
            raise bad_argument(
                "PyramidPooling",
                "bins",
                "một dãy số nguyên >= 1, ví dụ (1, 2, 3, 6)",
                "a sequence of integers >= 1, e.g. (1, 2, 3, 6)",
                bins,
            )
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_feature_map("PyramidPooling.forward", x, self.in_channels)
        size = x.shape[-2:]
        levels = [F.interpolate(stage(x), size=size, mode="bilinear", align_corners=False) for stage in self.stages]
        return torch.cat([x, *levels], dim=1)


class PSPHead(nn.Sequential):
    """Pyramid pooling, 3x3 conv + BN + ReLU, dropout, 1x1 classifier."""

    def __init__(self, in_channels: int, num_classes: int, bins: Sequence[int], channels: int, dropout: float) -> None:
        ppm = PyramidPooling(in_channels, bins)
        super().__init__(
            ppm,
            nn.Conv2d(ppm.out_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Conv2d(channels, num_classes, 1),
        )


class PSPNet(nn.Module):
    """PSPNet: backbone (output stride 8 by default) + pyramid pooling head + bilinear upsampling; returns logits.

    Arguments as in :class:`src.deeplab.DeepLabV3` (``backbone`` a name or a
    module, ``binary`` for one logit, ``se`` for lesson 06); ``channels`` is
    the width after the pyramid (512 in the paper's ResNet models).
    """

    def __init__(
        self,
        backbone: str | nn.Module,
        num_classes: int,
        output_stride: int | None = None,
        bins: Sequence[int] = (1, 2, 3, 6),
        binary: bool = False,
        se: bool | str = False,
        channels: int = 512,
        dropout: float = 0.1,
        multi_grid: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        out = _check_num_classes("PSPNet", num_classes, binary)
        if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise bad_argument("PSPNet", "dropout", "một số trong [0, 1)", "a number in [0, 1)", dropout)
        self.backbone = resolve_backbone("PSPNet", backbone, output_stride, multi_grid, default_os=8)
        self.output_stride, self.binary, self.num_classes = self.backbone.output_stride, bool(binary), num_classes
        self.classifier = PSPHead(self.backbone.channels["layer4"], out, bins, channels, dropout)
        set_bn_momentum(self.classifier)
        apply_se("PSPNet", self, se)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise bad_argument("PSPNet.forward", "x", "một tensor N x 3 x H x W", "an N x 3 x H x W tensor", x)
        logits = self.classifier(self.backbone(x)["layer4"])
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
