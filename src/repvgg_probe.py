"""Lesson 08's experiment networks: a small RepVGG with or without SE, and DeepLabV3 vs DeepLabV3+ (lesson 08).

* :class:`RepVGGProbe` (Ding et al., arXiv 2101.03697; SE: Hu et al., arXiv
  1709.01507): four :class:`src.repvgg.RepVGGBlock` (3x3 stride 2 to width / 2,
  3x3 stride 2 to width, two 3x3 with the identity branch), a 1x1 conv + BN +
  ReLU and a 1x1 classifier, at output stride 4 (a 16x16 map on a 64-px image).
  ``se=True`` puts an SE block in every RepVGG block as RepVGG's own SE variant
  does (on the sum of the branches, before the ReLU, ``out_channels // 16``
  squeeze neurons, global pooling on any map). The SE block is *not* merged
  by :func:`src.repvgg.deploy`: it stays a separate module after the fused 3x3.
* :func:`deeplab_pair` (Chen et al., arXiv 1706.05587 and 1802.02611): the
  ``tiny`` backbone at output stride 16, ASPP at rates (1, 2, 3) on the 4x4
  map of a 64-px image (no rate reaches the map's side), 64 channels; with
  ``plus=True`` DeepLabV3+'s decoder adds the output-stride-4 ``layer1``
  skip through a 1x1 conv that keeps its 16 channels (16 -> 16: ``tiny``'s
  ``layer1`` already has 16 channels; the paper reduces 256 to 48 for a
  256-channel head, scaled here to this 64-channel head).

Used by ``src.claims`` (``repvgg_se_cue``, ``deeplabv3plus_boundary``, ``deeplabv3plus_miou``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .i18n import bad_argument
from .registry import register_core

__all__ = ["PROBE_BN_MOMENTUM", "RepVGGProbe", "deeplab_pair", "selfcheck_core"]

#: BN momentum of the probes: a few hundred CPU steps need running statistics that keep up (docs/DESIGN.md)
PROBE_BN_MOMENTUM = 0.3


class RepVGGProbe(nn.Module):
    """``RepVGGProbe(num_classes, se=False, width=32)``: four RepVGG blocks at output stride 4, a 1x1 head.

    ``deploy()`` (or :func:`src.repvgg.deploy`) fuses every block into one 3x3 convolution; the output is
    unchanged in eval mode, SE or not.
    """

    def __init__(self, num_classes: int, se: bool = False, width: int = 32, in_channels: int = 3) -> None:
        super().__init__()
        from .repvgg import RepVGGBlock

        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise bad_argument("RepVGGProbe", "num_classes", "một số nguyên >= 1", "an integer >= 1", num_classes)
        if not isinstance(se, bool):
            raise bad_argument("RepVGGProbe", "se", "True hoặc False", "True or False", se, TypeError)
        if isinstance(width, bool) or not isinstance(width, int) or width < 2 or width % 2:
            raise bad_argument("RepVGGProbe", "width", "một số nguyên chẵn >= 2", "an even integer >= 2", width)
        self.se = se
        self.trunk = nn.Sequential(
            RepVGGBlock(in_channels, width // 2, 2, se=se),
            RepVGGBlock(width // 2, width, 2, se=se),
            RepVGGBlock(width, width, 1, se=se),
            RepVGGBlock(width, width, 1, se=se),
        )
        self.context_block = nn.Sequential(
            nn.Conv2d(width, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        self.classifier = nn.Conv2d(width, num_classes, 1)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = PROBE_BN_MOMENTUM

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(self.context_block(self.trunk(x)))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def deploy(self) -> RepVGGProbe:
        """Fuse every RepVGG block (eval mode, in place) and return ``self``."""
        from .repvgg import deploy

        return deploy(self)


def deeplab_pair(num_classes: int, plus: bool) -> nn.Module:
    """DeepLabV3 (``plus=False``) or DeepLabV3+ (``plus=True``) on ``tiny`` at output stride 16, rates (1, 2, 3).

    Both have the same backbone, the same ASPP (64 channels) and the same
    training; DeepLabV3+ adds the decoder on ``layer1`` (output stride 4, a
    1x1 conv that keeps its 16 channels, two 3x3 convs of 64): the only difference.
    """
    from .deeplab import DeepLabV3, DeepLabV3Plus

    if not isinstance(plus, bool):
        raise bad_argument("deeplab_pair", "plus", "True hoặc False", "True or False", plus, TypeError)
    if plus:
        return DeepLabV3Plus(
            num_classes, "tiny", output_stride=16, atrous_rates=(1, 2, 3), channels=64, low_level_channels=16
        )
    return DeepLabV3(num_classes, "tiny", output_stride=16, atrous_rates=(1, 2, 3), channels=64)


@register_core("08")
def selfcheck_core(device: torch.device) -> str:
    """Lesson 08's core: RepVGGProbe with SE (forward + backward), exact deploy, a DeepLabV3+ forward; one line."""
    device = torch.device(device)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 32, 40, generator=gen).to(device)
    probe = RepVGGProbe(3, se=True, width=16).to(device).train()
    out = probe(x)
    out.square().mean().backward()
    grads = all(p.grad is not None for p in probe.parameters())
    probe.eval()
    with torch.no_grad():
        before = probe(x)
        diff = (before - probe.deploy()(x)).abs().max().item()
        plus = deeplab_pair(3, True).to(device).eval()(x.new_zeros(1, 3, 64, 64))  # a 4x4 map at OS 16
    if out.shape != (2, 3, 32, 40) or not grads or diff > 1e-4 or plus.shape != (1, 3, 64, 64):
        raise RuntimeError(
            f"repvgg_probe: shape {tuple(out.shape)}, grads {grads}, deploy |diff| {diff:.1e}, V3+ {tuple(plus.shape)}"
        )
    return f"repvgg_probe: RepVGG+SE {tuple(out.shape)}, deploy max |diff| {diff:.1e}, DeepLabV3+ ok on {device.type}"
