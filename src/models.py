"""Small models shared by the lessons: the FCN baseline (lesson 00) and lesson 01's RF ladder.

``FCN`` is the fully convolutional baseline of Long et al. (arXiv 1411.4038):
a backbone, a small convolutional head and bilinear upsampling, as a
:class:`src.segmodel.SegmentationModel`. The tiny ResNet-style backbone
(``TinyBackbone``, ``BasicBlock``) lives in :mod:`src.backbones` and is
re-exported here, so ``src.models.TinyBackbone`` keeps working.
"""

from __future__ import annotations

from typing import Any

import torch.nn as nn

from .backbones import BN_MOMENTUM, BasicBlock, TinyBackbone
from .i18n import bad_argument
from .registry import register_capstone
from .segmodel import ClassifierHead, SegmentationModel

__all__ = ["BN_MOMENTUM", "FCN", "BasicBlock", "RFLadder", "TinyBackbone", "count_parameters"]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class FCN(SegmentationModel):
    """Fully convolutional baseline: the backbone's last stage, a 3x3 conv + BN + ReLU head of ``channels``
    (64 by default), a 1x1 classifier, bilinear upsampling (Long et al., arXiv 1411.4038; lesson 00).

    ``FCN(num_classes, backbone="tiny", *, output_stride=32, channels=64, se=False)``; a backbone module
    whose ``output_stride`` differs from an explicit ``output_stride`` raises.
    """

    default_output_stride = 32
    default_channels = 64

    def build_head(self, stages: dict[str, int], **options: Any) -> nn.Module:
        hidden = self.channels
        return ClassifierHead(
            nn.Conv2d(stages["layer4"], hidden, 3, padding=1, bias=False),
            nn.BatchNorm2d(hidden, momentum=BN_MOMENTUM),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, self.num_classes, 1),
            channels=hidden,
        )


@register_capstone("fcn", "FCN", "00")
def capstone_fcn(num_classes: int, se: bool | str = False, output_stride: int = 8) -> FCN:
    """Lesson 07's FCN: the tiny backbone at ``output_stride``."""
    return FCN(num_classes, "tiny", output_stride=output_stride, se=se)


# ----------------------------------------------------------------------------- lesson 01: the RF ladder
# (moved here from src/receptive_field.py; still importable as src.receptive_field.RFLadder)


class RFLadder(nn.Sequential):
    """Segmentation nets of equal depth whose receptive field grows with ``level`` (lesson 01's experiment).

    Two stride-2 3x3 convolutions (output stride 4, RF 7), then four layers: the
    first ``level`` are 3x3 convolutions with dilation 1, 2, 4, 8, the others
    1x1 convolutions; then a 1x1 classifier. RF = 7, 15, 31, 63, 127 for level
    0 ... 4, at the same depth, resolution and nearly the same cost.
    """

    def __init__(self, num_classes: int, level: int, width: int = 32, in_channels: int = 3) -> None:
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 4:
            raise bad_argument("RFLadder", "level", "một số nguyên từ 0 đến 4", "an integer from 0 to 4", level)
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise bad_argument("RFLadder", "num_classes", "một số nguyên >= 1", "an integer >= 1", num_classes)

        def block(c_in: int, c_out: int, k: int, s: int = 1, d: int = 1) -> list[nn.Module]:
            conv = nn.Conv2d(c_in, c_out, k, s, d * (k - 1) // 2, d, bias=False)
            return [conv, nn.BatchNorm2d(c_out, momentum=0.3), nn.ReLU(inplace=True)]

        layers = block(in_channels, width // 2, 3, 2) + block(width // 2, width, 3, 2)
        for i in range(4):
            layers += block(width, width, 3, d=2**i) if i < level else block(width, width, 1)
        layers.append(nn.Conv2d(width, num_classes, 1))
        super().__init__(*layers)
