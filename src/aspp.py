"""Atrous Spatial Pyramid Pooling and the DeepLabV3 head (lesson 03).

ASPP (DeepLabv2, Chen et al., arXiv 1606.00915) probes one feature map with
parallel 3x3 atrous convolutions at several rates. DeepLabv3 (Chen et al.,
"Rethinking Atrous Convolution for Semantic Image Segmentation", arXiv
1706.05587) adds batch norm, a 1x1 branch and an image-level branch (global
average pooling, 1x1 conv, BN, ReLU, bilinear upsampling back), concatenates
the branches and projects them with a 1x1 conv + BN + ReLU (+ dropout).

The modules mirror torchvision's ``models/segmentation/deeplabv3.py`` module
for module, so ``ASPP`` and ``DeepLabHead`` load torchvision's state_dict with
``strict=True`` and give the same output. One difference: torchvision's
image-pooling branch raises in train mode at batch size 1, because batch norm
then sees a single value per channel and cannot compute a variance. Here that
branch uses :class:`PoolingBatchNorm`, which in that one case normalises with
its running statistics (and leaves them unchanged) instead of raising.

A rate at least as large as the feature map's side is *degenerate*: every
off-centre tap of that branch lands in the zero padding, so the branch is a
1x1 convolution in disguise (lesson 02, DeepLabv3 Fig. 4). ``ASPP.forward``
then warns with :class:`DegenerateASPPWarning` (once per module and map size);
:func:`scaled_atrous_rates` scales DeepLabv3's rates to a smaller map.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .i18n import bad_argument, check_feature_map, tr

__all__ = [
    "ASPP",
    "ASPPConv",
    "ASPPPooling",
    "DeepLabHead",
    "DegenerateASPPWarning",
    "PoolingBatchNorm",
    "default_atrous_rates",
    "degenerate_rates",
    "scaled_atrous_rates",
    "valid_tap_fraction",
]

#: the rates of DeepLabv3 (Sec. 3.3): they double when the output stride halves
RATES_FOR_OUTPUT_STRIDE = {16: (6, 12, 18), 8: (12, 24, 36)}


def default_atrous_rates(output_stride: int) -> tuple[int, ...]:
    """DeepLabv3's ASPP rates for an output stride: (6, 12, 18) at 16, (12, 24, 36) at 8; others need explicit rates."""
    if output_stride not in RATES_FOR_OUTPUT_STRIDE:
        raise bad_argument(
            "default_atrous_rates",
            "output_stride",
            "16 hoặc 8 (với tỉ lệ khác, hãy truyền atrous_rates tường minh)",
            "16 or 8 (for any other output stride pass atrous_rates explicitly)",
            output_stride,
        )
    return RATES_FOR_OUTPUT_STRIDE[output_stride]


class DegenerateASPPWarning(UserWarning):
    """An ASPP branch's atrous rate is >= the feature map's height or width: its off-centre taps only see padding."""


def valid_tap_fraction(height: int, width: int, rate: int, kernel_size: int = 3) -> float:
    """Mean fraction of a 'same'-padded ``k x k`` atrous filter's taps that land inside an ``height x width`` map.

    Uses :func:`src.dilated.valid_weight_histogram` (DeepLabv3, arXiv 1706.05587,
    Fig. 4) on each axis: the fraction of valid taps factorises over rows and
    columns. 1.0 on a large map; ``1 / k**2`` once the rate reaches both sides.
    """
    from .dilated import valid_weight_histogram

    def per_axis(n: int) -> float:
        # on an n x n map the mean number of valid taps is (mean per axis) ** 2
        histogram = valid_weight_histogram(n, kernel_size, rate)
        return sum(taps * share for taps, share in histogram.items()) ** 0.5 / kernel_size

    return per_axis(height) * per_axis(width)


def degenerate_rates(atrous_rates: Sequence[int], height: int, width: int) -> tuple[int, ...]:
    """The rates among ``atrous_rates`` that are >= ``height`` or ``width`` (their branch degenerates to 1x1)."""
    return tuple(r for r in _check_rates("degenerate_rates", atrous_rates) if r >= height or r >= width)


def scaled_atrous_rates(
    feature_size: int, reference_rates: Sequence[int] = (6, 12, 18), reference_size: int = 33
) -> tuple[int, ...]:
    """DeepLabv3's rates scaled to a smaller feature map, as lesson 02 teaches.

    DeepLabv3 uses (6, 12, 18) on the 33 x 33 map of a 513-px crop at output
    stride 16. The same *fraction* of the map on a ``feature_size`` map is
    ``round(r * feature_size / reference_size)``, kept in ``[1, feature_size - 1]``
    (so that no branch is degenerate) and strictly increasing where the map allows.
    """
    if isinstance(feature_size, bool) or not isinstance(feature_size, int) or feature_size < 2:
        raise bad_argument("scaled_atrous_rates", "feature_size", "một số nguyên >= 2", "an integer >= 2", feature_size)
    reference = _check_rates("scaled_atrous_rates", reference_rates)
    if isinstance(reference_size, bool) or not isinstance(reference_size, int) or reference_size < 1:
        raise bad_argument(
            "scaled_atrous_rates", "reference_size", "một số nguyên >= 1", "an integer >= 1", reference_size
        )
    rates: list[int] = []
    for r in reference:
        rate = min(max(1, round(r * feature_size / reference_size)), feature_size - 1)
        if rates and rate <= rates[-1]:
            rate = min(rates[-1] + 1, feature_size - 1)
        rates.append(rate)
    return tuple(rates)


def _warn_if_degenerate(module: ASPP, height: int, width: int) -> None:
    if (height, width) in module._warned_sizes:
        return
    module._warned_sizes.add((height, width))
    for rate in degenerate_rates(module.atrous_rates, height, width):
        fraction = valid_tap_fraction(height, width, rate)
        warnings.warn(
            tr(
                f"ASPP: hệ số giãn {rate} >= cạnh của bản đồ đặc trưng {height}x{width}; chỉ {fraction:.0%} "
                "điểm lấy mẫu của nhánh này hợp lệ (các điểm lệch tâm rơi vào phần đệm), nên nhánh thoái hoá "
                "thành tích chập 1x1. Hãy giảm hệ số giãn theo kích thước bản đồ (src.aspp.scaled_atrous_rates) "
                "hoặc tăng kích thước ảnh vào / giảm output stride.",
                f"ASPP: atrous rate {rate} >= the side of the {height}x{width} feature map; only {fraction:.0%} "
                "of this branch's taps are valid (the off-centre ones land in the padding), so the branch "
                "degenerates to a 1x1 convolution. Scale the rates with the map (src.aspp.scaled_atrous_rates) "
                "or use a larger input / a smaller output stride.",
            ),
            DegenerateASPPWarning,
            stacklevel=3,
        )


def _check_rates(function: str, atrous_rates: Sequence[int]) -> tuple[int, ...]:
    if (
        isinstance(atrous_rates, (str, bytes))
        or not isinstance(atrous_rates, Sequence)
        or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in atrous_rates)
    ):
        raise bad_argument(
            function,
            "atrous_rates",
            "một dãy số nguyên >= 1, ví dụ (6, 12, 18)",
            "a sequence of integers >= 1, e.g. (6, 12, 18)",
            atrous_rates,
        )
    return tuple(atrous_rates)


def _check_channels(function: str, name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_argument(function, name, "một số nguyên >= 1", "an integer >= 1", value)


class PoolingBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d that, in train mode with one value per channel (batch 1 after global pooling), uses running stats."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] * x.shape[2] * x.shape[3] == 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)


class ASPPConv(nn.Sequential):
    """One atrous branch: 3x3 convolution with dilation ``rate`` (padding = rate), BN, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, rate: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=rate, dilation=rate, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


class ASPPPooling(nn.Sequential):
    """Image-level features: global average pooling, 1x1 conv, BN, ReLU, bilinear upsampling to the input size."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            PoolingBatchNorm(out_channels),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        for module in self:
            x = module(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Atrous Spatial Pyramid Pooling of DeepLabv3: 1x1 branch, one atrous branch per rate, image pooling, projection.

    ``image_pooling=False`` drops the image-level branch (used by the lesson's
    ablation); ``dropout`` is the projection's dropout (0.5 as in torchvision).
    """

    def __init__(
        self,
        in_channels: int,
        atrous_rates: Sequence[int],
        out_channels: int = 256,
        image_pooling: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        _check_channels("ASPP", "in_channels", in_channels)
        _check_channels("ASPP", "out_channels", out_channels)
        rates = _check_rates("ASPP", atrous_rates)
        if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise bad_argument("ASPP", "dropout", "một số trong [0, 1)", "a number in [0, 1)", dropout)
        self.atrous_rates, self.image_pooling, self.in_channels = rates, bool(image_pooling), in_channels
        self._warned_sizes: set[tuple[int, int]] = set()
        branches: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU())
        ]
        branches += [ASPPConv(in_channels, out_channels, rate) for rate in rates]
        if image_pooling:
            branches.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_feature_map("ASPP.forward", x, self.in_channels)
        _warn_if_degenerate(self, int(x.shape[-2]), int(x.shape[-1]))
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))


class DeepLabHead(nn.Sequential):
    """ASPP, 3x3 conv + BN + ReLU, 1x1 classifier: torchvision's DeepLabHead (same state_dict keys).

    ``channels`` (256 in the paper and torchvision), ``image_pooling`` and
    ``dropout`` are extra knobs for small CPU models; the defaults match torchvision.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        atrous_rates: Sequence[int] = (12, 24, 36),
        channels: int = 256,
        image_pooling: bool = True,
        dropout: float = 0.5,
    ) -> None:
        _check_channels("DeepLabHead", "num_classes", num_classes)
        super().__init__(
            ASPP(in_channels, atrous_rates, channels, image_pooling=image_pooling, dropout=dropout),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, num_classes, 1),
        )
