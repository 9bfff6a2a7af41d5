"""DeepLabV3: a dilated backbone and an ASPP head (lesson 03; used by lessons 04, 06 and 07).

Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation",
arXiv 1706.05587 (DeepLabv3); earlier versions: DeepLab v1 (arXiv 1412.7062)
and v2 (arXiv 1606.00915). The backbone (``src.backbones``) keeps the
resolution at output stride 16 or 8 with atrous convolution; the head is
:class:`src.aspp.DeepLabHead` (with attention slots, see
:class:`src.segmodel.ClassifierHead`); the logits are upsampled bilinearly to
the input size. ``num_classes=1`` gives one logit per pixel (sigmoid / binary
cross-entropy) instead of one per class (softmax / cross-entropy).
``context="none"`` swaps ASPP for a plain 1x1 conv + BN + ReLU of the same
width (the "no context module" baseline of the lesson's ablation, built by
:func:`src.ablations.context_ablation`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_choice, check_int, check_int_sequence, check_number
from .aspp import ASPP, DeepLabHead, default_atrous_rates
from .i18n import bad_argument
from .registry import register_capstone, register_core
from .se import SE_CHOICES, attention_slot
from .segmodel import ClassifierHead, SegmentationModel, resolve_backbone, set_bn_momentum

__all__ = [
    "SE_CHOICES",
    "DeepLabV3",
    "DeepLabV3Plus",
    "DeepLabV3PlusDecoder",
    "resolve_backbone",
    "selfcheck_core",
    "set_bn_momentum",
]


class DeepLabV3(SegmentationModel):
    """DeepLabV3 = backbone at output stride 16 / 8 + ASPP head + bilinear upsampling; returns logits N x C x H x W.

    ``DeepLabV3(num_classes, backbone="tiny", *, output_stride=16, channels=256, se=False,
    multi_grid=None, atrous_rates=None, image_pooling=True, context="aspp", dropout=0.5)``.
    ``backbone``: a name from ``src.backbones.BACKBONES`` or a module with
    ``.channels`` and ``.output_stride``. ``output_stride`` (None: 16 for a
    name, the module's own for a module) sets the default ``atrous_rates``
    ((6, 12, 18) at 16, (12, 24, 36) at 8; any other output stride needs
    explicit rates). ``channels`` is the head's width (256 in the paper).
    ``se``: False, True / "both", "backbone" or "decoder" (lesson 06).
    ``model.classifier`` has DeepLabHead's state_dict keys (torchvision's weights load strictly).
    """

    default_output_stride = 16
    default_channels = 256
    head_options: ClassVar[dict[str, Any]] = {
        "atrous_rates": None,
        "image_pooling": True,
        "context": "aspp",
        "dropout": 0.5,
    }

    def build_head(
        self, stages: dict[str, int], atrous_rates: Any, image_pooling: bool, context: str, dropout: float
    ) -> nn.Module:
        check_choice("DeepLabV3", "context", context, ("aspp", "none"))
        check_number("DeepLabV3", "dropout", dropout, 0.0, 1.0)
        if atrous_rates is None:
            if self.output_stride not in (8, 16):
                raise bad_argument(
                    "DeepLabV3",
                    "atrous_rates",
                    f"các hệ số giãn tường minh khi output_stride = {self.output_stride} (mặc định chỉ có cho 16 và 8)",
                    f"explicit rates when output_stride = {self.output_stride} (defaults exist for 16 and 8 only)",
                    atrous_rates,
                )
            atrous_rates = default_atrous_rates(self.output_stride)
        self.atrous_rates = check_int_sequence("DeepLabV3", "atrous_rates", atrous_rates, 1, "(6, 12, 18)")
        in_channels, channels = stages["layer4"], self.channels
        head = DeepLabHead(in_channels, self.num_classes, self.atrous_rates, channels, image_pooling, dropout)
        if context == "none":
            head[0] = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()
            )
        return ClassifierHead(*head, channels=channels, context_channels=channels)


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]


class DeepLabV3PlusDecoder(nn.Module):
    """DeepLabV3+'s decoder (Chen et al., arXiv 1802.02611, Sec. 3.1 and Fig. 2).

    ASPP on the deep features (output stride 16); the low-level features
    (output stride 4, ``layer1``) reduced to ``low_level_channels`` (48) by a
    1x1 conv + BN + ReLU; the ASPP output upsampled bilinearly to their size
    and concatenated; two 3x3 conv + BN + ReLU of ``channels`` (256); a 1x1
    classifier. Attention slots after ASPP and before the classifier (lesson 06).
    """

    def __init__(
        self,
        low_channels: int,
        high_channels: int,
        num_classes: int,
        atrous_rates: tuple[int, ...],
        channels: int = 256,
        low_level_channels: int = 48,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.aspp = ASPP(high_channels, atrous_rates, channels, dropout=dropout)
        self.context_attention = attention_slot(channels)
        self.reduce = nn.Sequential(*_conv_bn_relu(low_channels, low_level_channels, 1))
        self.fuse = nn.Sequential(
            *_conv_bn_relu(channels + low_level_channels, channels, 3), *_conv_bn_relu(channels, channels, 3)
        )
        self.attention = attention_slot(channels)
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        x = self.context_attention(self.aspp(high))
        x = F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=False)
        x = self.fuse(torch.cat([x, self.reduce(low)], dim=1))
        return self.classifier(self.attention(x))


class DeepLabV3Plus(SegmentationModel):
    """DeepLabV3+ = DeepLabV3's encoder + a light decoder on the output-stride-4 features (lesson 08).

    ``DeepLabV3Plus(num_classes, backbone="tiny", *, output_stride=16, channels=256, se=False,
    atrous_rates=None, low_level_channels=48, dropout=0.5)``: the encoder-decoder bridge of
    Chen et al. (arXiv 1802.02611). The low-level features are the backbone's ``layer1``
    (stride 4 for the course's backbones); the logits come out at that resolution and are
    upsampled (x4) to the input size by :class:`~src.segmodel.SegmentationModel`.
    """

    default_output_stride = 16
    default_channels = 256
    head_options: ClassVar[dict[str, Any]] = {"atrous_rates": None, "low_level_channels": 48, "dropout": 0.5}

    def build_head(
        self, stages: dict[str, int], atrous_rates: Any, low_level_channels: int, dropout: float
    ) -> nn.Module:
        check_number("DeepLabV3Plus", "dropout", dropout, 0.0, 1.0)
        low_level_channels = check_int("DeepLabV3Plus", "low_level_channels", low_level_channels, 1)
        if atrous_rates is None:
            if self.output_stride not in (8, 16):
                raise bad_argument(
                    "DeepLabV3Plus",
                    "atrous_rates",
                    f"các hệ số giãn tường minh khi output_stride = {self.output_stride} (mặc định chỉ có cho 16 và 8)",
                    f"explicit rates when output_stride = {self.output_stride} (defaults exist for 16 and 8 only)",
                    atrous_rates,
                )
            atrous_rates = default_atrous_rates(self.output_stride)
        self.atrous_rates = check_int_sequence("DeepLabV3Plus", "atrous_rates", atrous_rates, 1, "(6, 12, 18)")
        return DeepLabV3PlusDecoder(
            stages["layer1"],
            stages["layer4"],
            self.num_classes,
            self.atrous_rates,
            self.channels,
            low_level_channels,
            dropout,
        )

    def decode(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.classifier(features["layer1"], features["layer4"])


@register_capstone("deeplabv3", "DeepLabV3 (ASPP)", "03")
def capstone_deeplabv3(num_classes: int, se: bool | str = False, output_stride: int = 8) -> DeepLabV3:
    """Lesson 07's DeepLabV3: rates scaled to the 8x8 (64 px) - 12x12 (96 px) map at OS 8, as lesson 02
    teaches; the default (12, 24, 36) would only see padding there (src.aspp.DegenerateASPPWarning)."""
    rates = (2, 4, 6) if output_stride == 8 else (1, 2, 3)
    return DeepLabV3(num_classes, "tiny", output_stride=output_stride, atrous_rates=rates, channels=64, se=se)


@register_capstone("deeplabv3plus", "DeepLabV3+", "08")
def capstone_deeplabv3plus(num_classes: int, se: bool | str = False, output_stride: int = 8) -> DeepLabV3Plus:
    """Lesson 07's DeepLabV3+: the capstone DeepLabV3's ASPP (rates scaled to the 8x8 - 12x12 map, as above)
    and the decoder on ``layer1`` (stride 4) through a 1x1 conv that keeps its 16 channels (16 -> 16; the
    paper reduces to 48 for a 256-wide head, scaled to this 64-wide head)."""
    rates = (2, 4, 6) if output_stride == 8 else (1, 2, 3)
    return DeepLabV3Plus(
        num_classes, "tiny", output_stride=output_stride, atrous_rates=rates, channels=64, low_level_channels=16, se=se
    )


@register_core("03")
def selfcheck_core(device: torch.device) -> str:
    """Lesson 03's core on ``device``: a tiny DeepLabV3 forward + backward (batch 2 and batch 1), losses; one line."""
    from .losses import cross_entropy, dice_loss, focal_loss

    device = torch.device(device)
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = DeepLabV3(4, "tiny", output_stride=8, atrous_rates=(2, 4, 6), channels=32).to(device).train()
    x = torch.randn(2, 3, 64, 64, generator=gen).to(device)
    y = torch.randint(0, 4, (2, 64, 64), generator=gen).to(device)
    logits = model(x)
    loss = cross_entropy(logits, y) + dice_loss(logits, y) + focal_loss(logits, y)
    loss.backward()
    grads = sum(int(p.grad is not None) for p in model.parameters())
    one = model(x[:1])  # batch size 1 in train mode: the image-pooling branch must not raise
    ok = logits.shape == (2, 4, 64, 64) and one.shape == (1, 4, 64, 64) and bool(torch.isfinite(loss))
    return (
        f"deeplab: DeepLabV3(tiny, OS 8) logits {tuple(logits.shape)}, loss {loss.item():.3f}, "
        f"{grads} parameter grads, batch-1 train ok, {'OK' if ok else 'FAILED'} on {device.type}"
    )


def __getattr__(name: str) -> Any:
    """``ABLATION`` and ``context_ablation`` moved to :mod:`src.ablations`; still importable from here."""
    if name in ("ABLATION", "context_ablation"):
        from . import ablations

        return getattr(ablations, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
