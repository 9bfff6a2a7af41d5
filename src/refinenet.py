"""RefineNet: multi-path refinement of coarse features with fine ones (lesson 05).

Lin, Milan, Shen and Reid, "RefineNet: Multi-Path Refinement Networks for
High-Resolution Semantic Segmentation", CVPR 2017, arXiv 1611.06612; and the
light-weight variant of Nekrasov, Shen and Reid, "Light-Weight RefineNet for
Real-Time Semantic Segmentation", BMVC 2018, arXiv 1810.03272.

A strided backbone (output stride 32) gives four stages at 1/4 ... 1/32 of the
input. Instead of dilating the backbone (lessons 02-03), RefineNet climbs back
up a cascade: ``RefineNetBlock`` m fuses the output of block m+1 with the
backbone's stage m. Each block is built from

* ``ResidualConvUnit`` (RCU): ReLU, 3x3 conv, ReLU, 3x3 conv, plus the input;
* ``MultiResolutionFusion``: a conv per input to the smallest channel count,
  bilinear upsampling to the largest resolution (exact size), sum;
* ``ChainedResidualPooling`` (CRP): ReLU, then a chain of 5x5 stride-1 max-pool
  + conv blocks, each block's output added to a running sum.

``light=True`` gives Light-Weight RefineNet: 1x1 convolutions in fusion and
CRP, and no RCU, which trains in seconds on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_choice, check_image, check_int, checking, validated
from .i18n import bad_argument, tr
from .registry import register_capstone, register_core
from .se import SE_CHOICES, attention_slot
from .segmodel import ClassifierHead, SegmentationModel

__all__ = [
    "SE_CHOICES",
    "ChainedResidualPooling",
    "MultiResolutionFusion",
    "RefineNet",
    "RefineNetBlock",
    "RefineNetDecoder",
    "ResidualConvUnit",
    "chained_residual_pooling",
    "draw_cascade",
    "multi_resolution_fusion",
    "selfcheck_core",
]

_check_int = check_int  # wrong type: TypeError; out of range: ValueError (src._validate)


def _check_map(function: str, name: str, x: object, channels: int | None = None) -> None:
    if not isinstance(x, torch.Tensor):
        raise bad_argument(function, name, "một torch.Tensor", "a torch.Tensor", x, TypeError)
    if x.dim() != 4:
        raise bad_argument(function, name, "một tensor N x C x H x W", "an N x C x H x W tensor", x)
    if channels is not None and x.shape[1] != channels:
        raise bad_argument(function, name, f"{channels} kênh (chiều 1)", f"{channels} channels (dim 1)", x)


def chained_residual_pooling(x: torch.Tensor, convs: Sequence[nn.Module], pool_size: int = 5) -> torch.Tensor:
    """The CRP forward: ``x = relu(x)``, then for each conv ``path = conv(maxpool(path)); x = x + path``.

    ``path`` starts as ``relu(x)``; the max-pool has stride 1 and padding
    ``pool_size // 2``, so every map keeps the input's size.
    """
    if checking():
        _check_map("chained_residual_pooling", "x", x)
    if pool_size < 1 or pool_size % 2 == 0:
        raise bad_argument(
            "chained_residual_pooling", "pool_size", "một số nguyên lẻ >= 1", "an odd integer >= 1", pool_size
        )
    x = F.relu(x)
    path = x
    for conv in convs:
        path = conv(F.max_pool2d(path, pool_size, stride=1, padding=pool_size // 2))
        x = x + path
    return x


def multi_resolution_fusion(features: Sequence[torch.Tensor], convs: Sequence[nn.Module]) -> torch.Tensor:
    """The fusion forward: ``conv_i`` on each input, bilinear upsampling to the largest input's size, sum.

    The target size is that of the input with the most pixels, taken exactly
    (odd sizes included), with ``align_corners=False``.
    """
    if isinstance(features, torch.Tensor) or not isinstance(features, (list, tuple)) or not features:
        raise bad_argument(
            "multi_resolution_fusion", "features", "một list các tensor", "a list of tensors", features, TypeError
        )
    if len(convs) != len(features):
        raise bad_argument(
            "multi_resolution_fusion",
            "features",
            f"{len(convs)} tensor (một cho mỗi conv)",
            f"{len(convs)} tensors (one per conv)",
            len(features),
        )
    if checking():
        for x in features:
            _check_map("multi_resolution_fusion", "features", x)
    size = max((x.shape[-2:] for x in features), key=lambda s: s[0] * s[1])
    out = None
    for x, conv in zip(features, convs):
        y = conv(x)
        if y.shape[-2:] != size:
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        out = y if out is None else out + y
    return out


class ResidualConvUnit(nn.Module):
    """RCU: ``x + conv2(relu(conv1(relu(x))))``, 3x3 convolutions, no batch norm (as in the paper)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        _check_int("ResidualConvUnit", "channels", channels, 1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if checking():  # called directly; inside a model the input was checked once
            _check_map("ResidualConvUnit.forward", "x", x, self.conv1.in_channels)
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class MultiResolutionFusion(nn.Module):
    """Fuse paths of different resolutions: a conv per input to ``out_channels``, upsample, sum.

    ``out_channels`` defaults to the smallest of ``in_channels`` (the paper).
    With a single input the block passes it through unchanged (RefineNet-4 in
    the paper has one input path).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int | None = None, kernel_size: int = 3) -> None:
        super().__init__()
        if isinstance(in_channels, int) or not isinstance(in_channels, (list, tuple)) or not in_channels:
            raise bad_argument(
                "MultiResolutionFusion",
                "in_channels",
                "một list số kênh",
                "a list of channel counts",
                in_channels,
                TypeError,
            )
        for c in in_channels:
            _check_int("MultiResolutionFusion", "in_channels", c, 1)
        out_channels = min(in_channels) if out_channels is None else out_channels
        _check_int("MultiResolutionFusion", "out_channels", out_channels, 1)
        if kernel_size not in (1, 3):
            raise bad_argument("MultiResolutionFusion", "kernel_size", "1 hoặc 3", "1 or 3", kernel_size)
        self.in_channels, self.out_channels = tuple(in_channels), out_channels
        single = len(in_channels) == 1 and in_channels[0] == out_channels
        self.convs = nn.ModuleList(
            [nn.Identity()]
            if single
            else [nn.Conv2d(c, out_channels, kernel_size, padding=kernel_size // 2, bias=False) for c in in_channels]
        )

    def forward(self, *features: torch.Tensor) -> torch.Tensor:
        if len(features) == 1 and isinstance(features[0], (list, tuple)):
            features = tuple(features[0])
        if checking():
            for x, c in zip(features, self.in_channels):
                _check_map("MultiResolutionFusion.forward", "features", x, c)
        return multi_resolution_fusion(list(features), self.convs)


class ChainedResidualPooling(nn.Module):
    """CRP: ReLU, then ``blocks`` x (5x5 stride-1 max-pool, conv), each output added to the sum."""

    def __init__(self, channels: int, blocks: int = 4, kernel_size: int = 3, pool_size: int = 5) -> None:
        super().__init__()
        _check_int("ChainedResidualPooling", "channels", channels, 1)
        _check_int("ChainedResidualPooling", "blocks", blocks, 0)
        if kernel_size not in (1, 3):
            raise bad_argument("ChainedResidualPooling", "kernel_size", "1 hoặc 3", "1 or 3", kernel_size)
        self.pool_size = pool_size
        self.convs = nn.ModuleList(
            nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, bias=False) for _ in range(blocks)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return chained_residual_pooling(x, self.convs, self.pool_size)


class RefineNetBlock(nn.Module):
    """One RefineNet-m: RCUs on each input, multi-resolution fusion, CRP, an output RCU.

    ``light=True`` (Light-Weight RefineNet) drops every RCU and uses 1x1
    convolutions in fusion and CRP. Call it with the inputs coarse to fine or in
    any order: the output has ``out_channels`` channels at the largest input's size.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        light: bool = False,
        crp_blocks: int = 4,
        rcus_per_input: int = 2,
        output_rcus: int = 1,
    ) -> None:
        super().__init__()
        if isinstance(in_channels, int) or not isinstance(in_channels, (list, tuple)) or not in_channels:
            raise bad_argument(
                "RefineNetBlock", "in_channels", "một list số kênh", "a list of channel counts", in_channels, TypeError
            )
        _check_int("RefineNetBlock", "out_channels", out_channels, 1)
        _check_int("RefineNetBlock", "rcus_per_input", rcus_per_input, 0)
        _check_int("RefineNetBlock", "output_rcus", output_rcus, 0)
        k = 1 if light else 3
        n_in, n_out = (0, 0) if light else (rcus_per_input, output_rcus)
        self.in_channels = tuple(in_channels)
        self.adapt = nn.ModuleList(nn.Sequential(*[ResidualConvUnit(c) for _ in range(n_in)]) for c in in_channels)
        self.fusion = MultiResolutionFusion(in_channels, out_channels, kernel_size=k)
        self.crp = ChainedResidualPooling(out_channels, crp_blocks, kernel_size=k)
        self.output = nn.Sequential(*[ResidualConvUnit(out_channels) for _ in range(n_out)])
        self.attention = attention_slot(out_channels)  # scSE goes here (src.se.add_se, lesson 06)

    def forward(self, *features: torch.Tensor) -> torch.Tensor:
        if len(features) == 1 and isinstance(features[0], (list, tuple)):
            features = tuple(features[0])
        if len(features) != len(self.adapt):
            raise bad_argument(
                "RefineNetBlock.forward",
                "features",
                f"{len(self.adapt)} tensor",
                f"{len(self.adapt)} tensors",
                len(features),
            )
        paths = [adapt(x) for adapt, x in zip(self.adapt, features)]
        return self.attention(self.output(self.crp(self.fusion(*paths))))


class RefineNetDecoder(nn.Module):
    """The 4-cascade over a backbone's four stages: reduce each stage, RefineNet-4 ... RefineNet-1, classifier.

    Stage m is first reduced to ``channels`` (``2 * channels`` for layer4, as in
    the paper: 256 / 512); RefineNet-4 refines layer4 alone, RefineNet-3 fuses
    its output with layer3, and so on down to layer1 (1/4 of the input). The
    classifier works at 1/4 resolution (two RCUs and a 1x1 conv; a 3x3 conv when
    ``light``). ``forward(stages)`` returns every map: ``refine4`` ... ``refine1``, ``logits``.
    """

    def __init__(self, stages: dict[str, int], num_classes: int, channels: int, light: bool, crp_blocks: int) -> None:
        super().__init__()
        k = 1 if light else 3
        widths = {"layer1": channels, "layer2": channels, "layer3": channels, "layer4": 2 * channels}
        self.reduce = nn.ModuleDict(
            {name: nn.Conv2d(stages[name], widths[name], k, padding=k // 2, bias=False) for name in widths}
        )
        self.refine4 = RefineNetBlock([2 * channels], 2 * channels, light, crp_blocks)
        self.refine3 = RefineNetBlock([2 * channels, channels], channels, light, crp_blocks)
        self.refine2 = RefineNetBlock([channels, channels], channels, light, crp_blocks)
        self.refine1 = RefineNetBlock([channels, channels], channels, light, crp_blocks)
        if light:
            self.classifier = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, num_classes, 3, padding=1))
        else:
            self.classifier = ClassifierHead(  # an attention slot before the 1x1 classifier
                ResidualConvUnit(channels),
                ResidualConvUnit(channels),
                nn.ReLU(),
                nn.Conv2d(channels, num_classes, 1),
                channels=channels,
            )

    def forward(self, stages: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        r = {name: self.reduce[name](stages[name]) for name in self.reduce}
        out = {"refine4": self.refine4(r["layer4"])}
        out["refine3"] = self.refine3(out["refine4"], r["layer3"])
        out["refine2"] = self.refine2(out["refine3"], r["layer2"])
        out["refine1"] = self.refine1(out["refine2"], r["layer1"])
        out["logits"] = self.classifier(out["refine1"])
        return out


class RefineNet(SegmentationModel):
    """The 4-cascade RefineNet over a backbone's four stages (output stride 32), see :class:`RefineNetDecoder`.

    ``RefineNet(num_classes, backbone="tiny", *, output_stride=32, channels=256, se=False,
    light=False, crp_blocks=4)``, as every :class:`src.segmodel.SegmentationModel`.
    The prediction is made at 1/4 resolution and upsampled bilinearly to the
    input size. ``backbone``: a name for :func:`src.backbones.build_backbone`
    (``"tiny"``, ``"resnet18"`` ... ``"resnet152"``, built with ``weights=None``)
    or a module whose forward returns ``{"layer1": ..., "layer4": ...}`` and that
    has ``channels`` and ``output_stride``. ``se``: False, or True / "backbone" /
    "decoder" / "both" to add Squeeze-and-Excitation with :func:`src.se.add_se`
    (lesson 06). ``light=True``: Light-Weight RefineNet (arXiv 1810.03272).
    """

    default_output_stride = 32
    default_channels = 256
    head_options: ClassVar[dict[str, Any]] = {"light": False, "crp_blocks": 4}

    def build_head(self, stages: dict[str, int], light: bool, crp_blocks: int) -> nn.Module:
        check_choice("RefineNet", "light", light, (False, True))
        _check_int("RefineNet", "crp_blocks", crp_blocks, 0)
        self.light = light
        return RefineNetDecoder(stages, self.num_classes, self.channels, light, crp_blocks)

    def decode(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.classifier(features)["logits"]

    def cascade(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every intermediate map: backbone stages, the four RefineNet outputs, the 1/4-resolution logits."""
        check_image("RefineNet.cascade", x)
        with validated():
            stages = self.backbone(x)
            return {**stages, **self.classifier(stages)}


def draw_cascade(shapes: dict[str, Sequence[int]] | None = None, ax=None):
    """Draw the 4-cascade (backbone stages on the left, RefineNet blocks on the right).

    ``shapes`` (for example ``{k: tuple(v.shape) for k, v in model.cascade(x).items()}``)
    adds each map's C x H x W to the boxes. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 4.6))
    else:
        fig = ax.figure
    shapes = shapes or {}

    def label(name: str, text: str) -> str:
        s = shapes.get(name)
        return f"{text}\n{s[1]}×{s[2]}×{s[3]}" if s is not None and len(s) == 4 else text

    def box(x: float, y: float, text: str, color: str) -> None:
        ax.add_patch(FancyBboxPatch((x - 0.8, y - 0.33), 1.6, 0.66, boxstyle="round,pad=0.04", fc=color, ec="0.3"))
        ax.text(x, y, text, ha="center", va="center", fontsize=8)

    def arrow(a: tuple[float, float], b: tuple[float, float]) -> None:
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=10, color="0.3"))

    ys = {1: 4.0, 2: 3.0, 3: 2.0, 4: 1.0}
    box(0, 5.0, tr("ảnh", "image"), "#eeeeee")
    arrow((0, 4.62), (0, 4.38))
    for m in (1, 2, 3, 4):
        box(0, ys[m], label(f"layer{m}", f"layer{m}  (1/{2 ** (m + 1)})"), "#cfe2f3")
        box(3.2, ys[m], label(f"refine{m}", f"RefineNet-{m}"), "#f9cb9c")
        arrow((0.82, ys[m]), (2.38, ys[m]))
        if m < 4:
            arrow((0, ys[m] - 0.35), (0, ys[m + 1] + 0.35))
            arrow((3.2, ys[m + 1] + 0.35), (3.2, ys[m] - 0.35))
    box(6.0, ys[1], label("logits", tr("phân lớp (1/4)", "classifier (1/4)")), "#d9ead3")
    arrow((4.02, ys[1]), (5.18, ys[1]))
    box(6.0, 5.0, tr("phóng to → H×W", "upsample → H×W"), "#d9ead3")
    arrow((6.0, ys[1] + 0.35), (6.0, 4.62))
    ax.text(
        1.6, 0.25, tr("mạng xương sống, bước trượt 32", "backbone, stride 32"), ha="center", fontsize=8, color="0.3"
    )
    ax.text(
        3.2, 0.25, tr("tầng tinh chỉnh (thô → mịn)", "refinement (coarse → fine)"), ha="left", fontsize=8, color="0.3"
    )
    ax.set_xlim(-1.0, 7.0)
    ax.set_ylim(0.0, 5.5)
    ax.set_axis_off()
    return fig


@register_capstone("refinenet", "RefineNet-LW", "05")
def capstone_refinenet(num_classes: int, se: bool | str = False, output_stride: int = 8) -> RefineNet:
    """Lesson 07's light-weight RefineNet: its backbone stays strided (the cascade recovers the
    resolution), so ``output_stride`` does not apply."""
    return RefineNet(num_classes, "tiny", light=True, channels=64, se=se)


@register_core("05")
def selfcheck_core(device: torch.device) -> str:
    """Forward + backward of a light and a full RefineNet (tiny backbone) at an odd size on ``device``."""
    from .models import TinyBackbone

    parts = []  # python -m src.selfcheck runs every core inside src._rng.seeded(0)
    for light in (True, False):
        model = RefineNet(5, TinyBackbone(), light=light, channels=16).to(device)
        x = torch.randn(2, 3, 65, 47, device=device)
        out = model(x)
        if out.shape != (2, 5, 65, 47) or not torch.isfinite(out).all():
            raise RuntimeError(f"refinenet selfcheck: bad output {tuple(out.shape)}")
        out.square().mean().backward()
        grads = sum(1 for p in model.parameters() if p.grad is not None)
        parts.append(f"{'light' if light else 'full'} out {tuple(out.shape)} grads {grads}")
    return f"refinenet on {device}: " + "; ".join(parts)
