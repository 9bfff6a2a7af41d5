"""Small models shared by the lessons: a tiny ResNet-style backbone and an FCN baseline (lesson 00).

``TinyBackbone`` mirrors torchvision's ResNet layout (a stem, then ``layer1``
... ``layer4`` at strides 4, 8, 16, 32) with few channels, so that every
lesson can train on a laptop CPU in seconds. Like
``torchvision.models.resnet50(replace_stride_with_dilation=...)`` it reaches
output stride 16 or 8 by turning the last strides into dilation (lesson 02).
``FCN`` is the fully convolutional baseline of Long et al. (arXiv 1411.4038):
a backbone, a small convolutional head and bilinear upsampling.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .i18n import bad_argument

__all__ = ["FCN", "TinyBackbone", "count_parameters"]

BN_MOMENTUM = 0.3  # short CPU runs: let BatchNorm's running statistics keep up


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a residual connection (He et al., arXiv 1512.03385)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class TinyBackbone(nn.Module):
    """A four-stage residual backbone for CPU lessons; returns ``{"layer1": ..., "layer4": ...}``.

    ``output_stride`` 32 (plain), 16 (layer4 dilated 2) or 8 (layer3 dilated 2,
    layer4 dilated 4). ``channels`` gives each stage's width.
    """

    def __init__(
        self, widths: tuple[int, int, int, int] = (16, 32, 48, 64), output_stride: int = 32, in_channels: int = 3
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise bad_argument("TinyBackbone", "output_stride", "8, 16 hoặc 32", "8, 16 or 32", output_stride)
        if len(widths) != 4 or any((not isinstance(w, int)) or w < 1 for w in widths):
            raise bad_argument("TinyBackbone", "widths", "bốn số nguyên dương", "four positive integers", widths)
        self.output_stride = output_stride
        w1, w2, w3, w4 = widths
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, w1, 3, 2, 1, bias=False),
            nn.BatchNorm2d(w1, momentum=BN_MOMENTUM),
            nn.ReLU(inplace=True),
        )
        d3 = 2 if output_stride == 8 else 1
        d4 = {32: 1, 16: 2, 8: 4}[output_stride]
        self.layer1 = BasicBlock(w1, w1, stride=2)
        self.layer2 = BasicBlock(w1, w2, stride=2)
        self.layer3 = BasicBlock(w2, w3, stride=1 if output_stride == 8 else 2, dilation=d3)
        self.layer4 = BasicBlock(w3, w4, stride=1 if output_stride <= 16 else 2, dilation=d4)
        self.channels = {"layer1": w1, "layer2": w2, "layer3": w3, "layer4": w4}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.stem(x)
        out = {}
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            out[name] = x
        return out


class FCNHead(nn.Sequential):
    """3x3 conv, batch norm, ReLU, 1x1 classifier (the head of torchvision's FCN, smaller)."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 64) -> None:
        super().__init__(
            nn.Conv2d(in_channels, hidden, 3, padding=1, bias=False),
            nn.BatchNorm2d(hidden, momentum=BN_MOMENTUM),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, num_classes, 1),
        )


class FCN(nn.Module):
    """Fully convolutional baseline: backbone's last stage, a small head, bilinear upsampling."""

    def __init__(self, num_classes: int, backbone: nn.Module | None = None, output_stride: int = 32) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise bad_argument("FCN", "num_classes", "một số nguyên >= 1", "an integer >= 1", num_classes)
        self.backbone = backbone if backbone is not None else TinyBackbone(output_stride=output_stride)
        self.head = FCNHead(self.backbone.channels["layer4"], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise bad_argument("FCN.forward", "x", "một tensor N x C x H x W", "an N x C x H x W tensor", x)
        features = self.backbone(x)["layer4"]
        return F.interpolate(self.head(features), size=x.shape[-2:], mode="bilinear", align_corners=False)


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
