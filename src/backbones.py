"""Backbones for segmentation at output stride 32, 16 or 8 (lessons 02-03, used by 05-07).

``build_backbone(name, output_stride, multi_grid)`` returns a module whose
forward gives ``{"layer1": ..., "layer4": ...}`` (strides 4, 8, 16, 32 at
output stride 32). To reach output stride 16 or 8 the last strides are turned
into dilation, as in DeepLabv3 (Chen et al., "Rethinking Atrous Convolution for
Semantic Image Segmentation", arXiv 1706.05587), and ``multi_grid`` multiplies
the dilation of the successive units of ``layer4`` (DeepLabv3, Sec. 3.2).

- ``"tiny"``: :class:`TinyBackbone` (defined here, also importable as
  ``src.models.TinyBackbone``), trains on a CPU in seconds; its ``layer4`` is
  one block, so multi-grid applies to its two convolutions.
- ``"resnet18"`` ... ``"resnet152"`` (He et al., arXiv 1512.03385): torchvision's
  ResNet, ``weights=None``. torchvision refuses dilation in ``BasicBlock``
  (ResNet-18/34); here every block is dilated by setting its convolutions'
  stride, dilation and padding directly, which works for both block types.
- ``"densenet121"`` (Huang et al., arXiv 1608.06993): torchvision's DenseNet
  features. Output stride 16 / 8 removes the average pooling of the last
  transition(s) and dilates the 3x3 convolutions of the dense blocks after it.
  Stages: ``layer1`` = stem + dense block 1 (stride 4), ``layer2`` = transition
  1 + block 2 (8), ``layer3`` = transition 2 + block 3 (16), ``layer4`` =
  transition 3 + block 4 + final norm and ReLU (32).

No weights are downloaded. The module keeps torchvision's parameter names
(``conv1``, ``layer1`` ... for ResNet, ``features.*`` for DenseNet), so
pretrained torchvision weights load into it (drop the classifier's keys).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from ._validate import check_int, check_int_sequence
from .i18n import bad_argument
from .se import attention_slot

__all__ = [
    "BACKBONES",
    "BN_MOMENTUM",
    "BasicBlock",
    "DenseNetBackbone",
    "ResNetBackbone",
    "TinyBackbone",
    "build_backbone",
    "dilate_conv",
]

BACKBONES = (
    "tiny", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "densenet121", "repvgg_a0", "repvgg_b0",
)  # fmt: skip
STAGES = ("layer1", "layer2", "layer3", "layer4")
BN_MOMENTUM = 0.3  # short CPU runs: let BatchNorm's running statistics keep up


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a residual connection (He et al., arXiv 1512.03385).

    ``self.attention`` is the block's attention slot (``nn.Identity`` until
    :func:`src.se.add_se` puts an SE block there): it acts on the branch after
    ``bn2``, before the addition, as in SE-ResNet (lesson 06).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)
        self.attention = attention_slot(out_channels, "backbone")
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
        out = self.attention(self.bn2(self.conv2(out)))
        return self.relu(out + identity)


class TinyBackbone(nn.Module):
    """A four-stage residual backbone for CPU lessons; returns ``{"layer1": ..., "layer4": ...}``.

    It mirrors torchvision's ResNet layout (a stem, then ``layer1`` ... ``layer4``
    at strides 4, 8, 16, 32) with few channels. ``output_stride`` 32 (plain),
    16 (layer4 dilated 2) or 8 (layer3 dilated 2, layer4 dilated 4), as
    ``torchvision.models.resnet50(replace_stride_with_dilation=...)`` does
    (lesson 02). ``widths`` gives each stage's width.
    """

    def __init__(
        self, widths: tuple[int, int, int, int] = (16, 32, 48, 64), output_stride: int = 32, in_channels: int = 3
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32) or isinstance(output_stride, bool):
            raise bad_argument("TinyBackbone", "output_stride", "8, 16 hoặc 32", "8, 16 or 32", output_stride)
        if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) != 4:
            raise bad_argument("TinyBackbone", "widths", "bốn số nguyên dương", "four positive integers", widths)
        for w in widths:
            check_int("TinyBackbone", "widths", w, 1)
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
        for name in STAGES:
            x = getattr(self, name)(x)
            out[name] = x
        return out


def _stage_dilations(output_stride: int) -> dict[str, int]:
    """Dilation of layer3 and layer4 for an output stride (their strides become 1 when dilated)."""
    return {32: {"layer3": 1, "layer4": 1}, 16: {"layer3": 1, "layer4": 2}, 8: {"layer3": 2, "layer4": 4}}[
        output_stride
    ]


def dilate_conv(conv: nn.Conv2d, dilation: int, remove_stride: bool) -> None:
    """Set a convolution's dilation (padding follows, so a 3x3 keeps the size); optionally drop its stride."""
    if remove_stride:
        conv.stride = (1, 1)
    if conv.kernel_size != (1, 1):
        conv.dilation = (dilation, dilation)
        conv.padding = (dilation * (conv.kernel_size[0] - 1) // 2, dilation * (conv.kernel_size[1] - 1) // 2)


def _unit_rates(base: int, units: int, multi_grid: Sequence[int] | None) -> list[int]:
    """Dilation of each unit of a stage: ``base * multi_grid[i]`` (multi_grid repeated as needed)."""
    grid = tuple(multi_grid) if multi_grid else (1,)
    return [base * grid[i % len(grid)] for i in range(units)]


def _block_width(block: nn.Module) -> int:
    """Output channels of a torchvision BasicBlock (conv2) or Bottleneck (conv3)."""
    return (block.conv3 if hasattr(block, "conv3") else block.conv2).out_channels


class ResNetBackbone(nn.Module):
    """torchvision's ResNet without avgpool/fc, returning the four stages; any block type can be dilated.

    A dilated stage runs every block at the stage's rate. ``torchvision_rates=True``
    follows torchvision's ``replace_stride_with_dilation`` instead: the first
    block of a dilated stage keeps the previous stage's rate (ResNet-50 at
    OS 16: ``layer4`` rates (1, 2, 2)); lesson 02 shows that convention
    (:func:`src.dilated.resnet_backbone`). ``multi_grid`` sets every unit of
    ``layer4`` to ``stage rate x multi_grid[i]`` in both conventions.
    """

    def __init__(
        self,
        depth: int,
        output_stride: int = 32,
        multi_grid: Sequence[int] | None = None,
        torchvision_rates: bool = False,
    ) -> None:
        super().__init__()
        net = getattr(torchvision.models, f"resnet{depth}")(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.output_stride = output_stride
        dilations = _stage_dilations(output_stride)
        previous = 1
        for name in ("layer3", "layer4"):
            stage = getattr(self, name)
            base = dilations[name]
            rates = _unit_rates(base, len(stage), multi_grid if name == "layer4" else None)
            if torchvision_rates and base > 1 and not (multi_grid and name == "layer4"):
                rates[0] = previous  # torchvision: the block that used to stride keeps the previous rate
            previous = base
            if base == 1 and rates == [1] * len(stage):
                continue
            for block, rate in zip(stage, rates):
                remove = base > 1  # a dilated stage keeps its resolution: no stride anywhere in it
                for conv in (m for m in block.modules() if isinstance(m, nn.Conv2d)):
                    dilate_conv(conv, rate, remove_stride=remove)
        self.channels = {name: _block_width(getattr(self, name)[-1]) for name in STAGES}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out = {}
        for name in STAGES:
            x = getattr(self, name)(x)
            out[name] = x
        return out


class DenseNetBackbone(nn.Module):
    """torchvision's DenseNet-121 features as four stages; OS 16 / 8 without transition pooling, dilated blocks."""

    def __init__(self, output_stride: int = 32, multi_grid: Sequence[int] | None = None) -> None:
        super().__init__()
        self.features = torchvision.models.densenet121(weights=None).features
        self.output_stride = output_stride
        dilations = _stage_dilations(output_stride)
        # transition2 leads into layer3, transition3 into layer4
        for stage, transition, block in (
            ("layer3", "transition2", "denseblock3"),
            ("layer4", "transition3", "denseblock4"),
        ):
            base = dilations[stage]
            dense = getattr(self.features, block)
            rates = _unit_rates(base, len(dense), multi_grid if stage == "layer4" else None)
            if base > 1:
                getattr(self.features, transition).pool = nn.Identity()
            for layer, rate in zip(dense.values(), rates):
                dilate_conv(layer.conv2, rate, remove_stride=False)
        f = self.features
        self.channels = {
            "layer1": f.transition1.conv.in_channels,
            "layer2": f.transition2.conv.in_channels,
            "layer3": f.transition3.conv.in_channels,
            "layer4": f.norm5.num_features,
        }

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.features
        x = f.pool0(f.relu0(f.norm0(f.conv0(x))))
        out = {"layer1": f.denseblock1(x)}
        out["layer2"] = f.denseblock2(f.transition1(out["layer1"]))
        out["layer3"] = f.denseblock3(f.transition2(out["layer2"]))
        out["layer4"] = F.relu(f.norm5(f.denseblock4(f.transition3(out["layer3"]))))
        return out


def _tiny(output_stride: int, multi_grid: Sequence[int] | None, **kwargs) -> TinyBackbone:
    net = TinyBackbone(output_stride=output_stride, **kwargs)
    if multi_grid:
        base = _stage_dilations(output_stride)["layer4"]
        for conv, rate in zip((net.layer4.conv1, net.layer4.conv2), _unit_rates(base, 2, multi_grid)):
            dilate_conv(conv, rate, remove_stride=False)
    return net


def build_backbone(name: str, output_stride: int = 32, multi_grid: Sequence[int] | None = None, **kwargs) -> nn.Module:
    """A backbone by name (see :data:`BACKBONES`): forward returns ``{"layer1": ..., "layer4": ...}``.

    The module has ``.channels`` (each stage's width) and ``.output_stride``.
    ``multi_grid`` (e.g. ``(1, 2, 4)``) multiplies the dilation of ``layer4``'s
    successive units (blocks; the two convolutions for ``"tiny"``).
    Extra keyword arguments go to :class:`~src.models.TinyBackbone` (e.g. ``widths``).
    """
    if not isinstance(name, str) or name not in BACKBONES:
        raise bad_argument("build_backbone", "name", f"một trong {BACKBONES}", f"one of {BACKBONES}", name)
    if isinstance(output_stride, bool) or output_stride not in (8, 16, 32):
        raise bad_argument("build_backbone", "output_stride", "8, 16 hoặc 32", "8, 16 or 32", output_stride)
    if multi_grid is not None:
        multi_grid = check_int_sequence("build_backbone", "multi_grid", multi_grid, 1, "(1, 2, 4)")
    if kwargs and name != "tiny":
        raise bad_argument(
            "build_backbone",
            "kwargs",
            "không có tham số thêm (chỉ 'tiny' nhận widths)",
            "no extra arguments (only 'tiny' takes widths)",
            kwargs,
            TypeError,
        )
    if name == "tiny":
        return _tiny(output_stride, multi_grid, **kwargs)
    if name == "densenet121":
        return DenseNetBackbone(output_stride, multi_grid)
    if name.startswith("repvgg"):
        if multi_grid is not None:
            raise bad_argument("build_backbone", "multi_grid", "None với RepVGG", "None for RepVGG", multi_grid)
        from .repvgg import RepVGGBackbone  # lesson 08; imported here to keep src.backbones light

        return RepVGGBackbone(name, output_stride)
    return ResNetBackbone(int(name[len("resnet") :]), output_stride, multi_grid)
