"""RepVGG and structural re-parameterisation, with SE (lesson 08).

* Ding, Zhang, Ma, Han, Ding, Sun — *RepVGG: Making VGG-style ConvNets Great
  Again* (arXiv 2101.03697). At training time every block has three branches
  whose outputs are summed before the ReLU: a 3x3 conv + BN, a 1x1 conv + BN
  and, when the shapes allow it (same channels, stride 1), an identity + BN.
  At deploy time the three branches are merged into ONE 3x3 convolution with a
  bias, exactly (in eval mode), because each branch is linear:

  - BN into a conv: ``W' = W * gamma / sqrt(var + eps)``,
    ``b' = beta - mean * gamma / sqrt(var + eps)``;
  - a 1x1 kernel is a 3x3 kernel that is zero off the centre;
  - the identity is a 3x3 kernel with a 1 at the centre of channel ``i -> i``.

  The network is then a plain stack of 3x3 convolutions and ReLUs, like VGG.
* RepVGG's own SE variant (the authors' repository, ``use_se``: the RepVGG-D2se
  model, added in April 2021 and marked there as not in the CVPR paper, which has
  no SE; their later RepVGGplus models put SE after the ReLU) puts an SE block
  (Hu et al., arXiv 1709.01507, :class:`src.se.SEBlock`) in every block, on the
  sum of the branches, before the ReLU, with ``internal_neurons = out_channels // 16``. The
  authors' code squeezes with ``avg_pool2d(kernel_size=width)``, which is a
  global pooling only on square maps; :class:`src.se.SEBlock` pools globally on
  any map (``AdaptiveAvgPool2d(1)``), which is what segmentation inputs need.

The depths and widths are the paper's Table 2, the multipliers its Table 3: RepVGG-A0 has stages of
1, 2, 4, 14, 1 blocks and widths ``(min(64, 64a), 64a, 128a, 256a, 512b)`` with
``a = 0.75, b = 2.5``; RepVGG-B0 has 1, 4, 6, 16, 1 blocks with
``a = 1, b = 2.5``. Deployed, A0 has 8.30M parameters and B0 14.33M (Table 4).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_choice, check_int
from .registry import register_capstone
from .se import SEBlock, attention_slot

__all__ = [
    "RepVGG",
    "RepVGGBackbone",
    "RepVGGBlock",
    "TinyRepVGGBackbone",
    "conv_bn",
    "deploy",
    "fuse_conv_bn",
    "pad_1x1_to_3x3",
    "repvgg_a0",
    "repvgg_b0",
]

#: the paper's configurations: blocks per stage and width multipliers (a, b)
CONFIGS = {
    "repvgg_a0": {"depths": (1, 2, 4, 14, 1), "a": 0.75, "b": 2.5},
    "repvgg_b0": {"depths": (1, 4, 6, 16, 1), "a": 1.0, "b": 2.5},
}


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """A convolution without bias followed by batch norm (one training-time branch)."""
    padding = dilation * (kernel_size // 2)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
    )


def fuse_conv_bn(kernel: torch.Tensor, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge an eval-mode BN into the conv before it: ``(W * gamma / std, beta - mean * gamma / std)``."""
    std = (bn.running_var + bn.eps).sqrt()
    scale = bn.weight / std
    return kernel * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * scale


def pad_1x1_to_3x3(kernel: torch.Tensor) -> torch.Tensor:
    """A 1x1 kernel as the 3x3 kernel that is zero everywhere but the centre."""
    return F.pad(kernel, [1, 1, 1, 1])


def _identity_kernel(channels: int, like: torch.Tensor) -> torch.Tensor:
    kernel = torch.zeros(channels, channels, 3, 3, dtype=like.dtype, device=like.device)
    kernel[torch.arange(channels), torch.arange(channels), 1, 1] = 1.0
    return kernel


class RepVGGBlock(nn.Module):
    """3x3 conv-BN + 1x1 conv-BN (+ identity-BN when shapes allow), summed, (SE), ReLU.

    ``reparameterize()`` replaces the branches by one 3x3 convolution with bias
    (``self.reparam``) that gives the same output in eval mode. ``dilation``
    serves the segmentation backbone at output stride 16/8 (lesson 02): the
    1x1 and identity branches land on the centre tap of a dilated 3x3 as well.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, *, dilation: int = 1, se: bool = False
    ) -> None:
        super().__init__()
        check_int("RepVGGBlock", "in_channels", in_channels)
        check_int("RepVGGBlock", "out_channels", out_channels)
        check_choice("RepVGGBlock", "stride", stride, (1, 2))
        check_int("RepVGGBlock", "dilation", dilation)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.dilation = stride, dilation
        self.dense = conv_bn(in_channels, out_channels, 3, stride, dilation)
        self.one_by_one = conv_bn(in_channels, out_channels, 1, stride)
        self.identity = nn.BatchNorm2d(in_channels) if in_channels == out_channels and stride == 1 else None
        self.reparam: nn.Conv2d | None = None
        # an attention slot (src.se.attention_slot): src.se.add_se(model, "backbone") fills it with the same SE
        self.attention: nn.Module = (
            SEBlock(out_channels, max(1, out_channels // 16)) if se else attention_slot(out_channels, "backbone")
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam is not None:
            out = self.reparam(x)
        else:
            out = self.dense(x) + self.one_by_one(x)
            if self.identity is not None:
                out = out + self.identity(x)
        return self.relu(self.attention(out))

    @torch.no_grad()
    def equivalent_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The 3x3 kernel and bias of the single convolution equal to the three branches (eval mode)."""
        kernel, bias = fuse_conv_bn(self.dense[0].weight, self.dense[1])
        k1, b1 = fuse_conv_bn(self.one_by_one[0].weight, self.one_by_one[1])
        kernel, bias = kernel + pad_1x1_to_3x3(k1), bias + b1
        if self.identity is not None:
            kid, bid = fuse_conv_bn(_identity_kernel(self.in_channels, kernel), self.identity)
            kernel, bias = kernel + kid, bias + bid
        return kernel, bias

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Replace the training-time branches by one 3x3 convolution with bias (in place)."""
        if self.reparam is not None:
            return
        kernel, bias = self.equivalent_kernel_bias()
        conv = nn.Conv2d(
            self.in_channels,
            self.out_channels,
            3,
            self.stride,
            padding=self.dilation,
            dilation=self.dilation,
            bias=True,
        ).to(kernel.device, kernel.dtype)
        conv.weight.copy_(kernel)
        conv.bias.copy_(bias)
        self.reparam = conv
        del self.dense, self.one_by_one, self.identity
        self.identity = None


def _widths(a: float, b: float) -> tuple[int, ...]:
    return (min(64, int(64 * a)), int(64 * a), int(128 * a), int(256 * a), int(512 * b))


class RepVGG(nn.Module):
    """The RepVGG classifier: five stages of :class:`RepVGGBlock` (the first block of each has stride 2),
    global average pooling and a linear layer. ``features(x)`` returns the five stage outputs
    (strides 2, 4, 8, 16, 32 at ``output_stride=32``); at ``output_stride`` 16 or 8 the last stages keep
    their resolution and dilate their 3x3 convolutions instead (DeepLab's recipe, lesson 02).
    """

    def __init__(
        self,
        depths: Sequence[int],
        widths: Sequence[int],
        num_classes: int = 1000,
        *,
        output_stride: int = 32,
        se: bool = False,
    ) -> None:
        super().__init__()
        check_int("RepVGG", "num_classes", num_classes)
        check_choice("RepVGG", "output_stride", output_stride, (8, 16, 32))
        self.widths = tuple(widths)
        self.output_stride = output_stride
        stride_so_far, dilation = 1, 1
        stages, in_channels = [], 3
        for depth, width in zip(depths, widths, strict=True):
            # as torchvision's ResNet with replace_stride_with_dilation: a stage that would pass the
            # output stride keeps stride 1; its first block keeps the previous dilation, the others double it
            previous, stride = dilation, 2
            if stride_so_far * 2 > output_stride:
                stride, dilation = 1, dilation * 2
            else:
                stride_so_far *= 2
            blocks = []
            for i in range(depth):
                blocks.append(
                    RepVGGBlock(
                        in_channels,
                        width,
                        stride if i == 0 else 1,
                        dilation=previous if i == 0 else dilation,
                        se=se,
                    )
                )
                in_channels = width
            stages.append(nn.Sequential(*blocks))
        self.stage0, self.stage1, self.stage2, self.stage3, self.stage4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The outputs of the five stages."""
        outputs = []
        for stage in (self.stage0, self.stage1, self.stage2, self.stage3, self.stage4):
            x = stage(x)
            outputs.append(x)
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)[-1]), 1))


def _repvgg(name: str, num_classes: int, output_stride: int, se: bool) -> RepVGG:
    cfg = CONFIGS[name]
    return RepVGG(cfg["depths"], _widths(cfg["a"], cfg["b"]), num_classes, output_stride=output_stride, se=se)


def repvgg_a0(num_classes: int = 1000, *, output_stride: int = 32, se: bool = False) -> RepVGG:
    """RepVGG-A0 (Ding et al., Tables 2 and 3): 8.30M parameters once deployed (Table 4), at ``num_classes=1000``."""
    return _repvgg("repvgg_a0", num_classes, output_stride, se)


def repvgg_b0(num_classes: int = 1000, *, output_stride: int = 32, se: bool = False) -> RepVGG:
    """RepVGG-B0 (Ding et al., Tables 2 and 3): 14.33M parameters once deployed (Table 4), at ``num_classes=1000``."""
    return _repvgg("repvgg_b0", num_classes, output_stride, se)


class RepVGGBackbone(nn.Module):
    """RepVGG's five stages as a segmentation backbone (:class:`src.segmodel.SegmentationModel`).

    ``forward`` returns ``{"layer1": ..., "layer4": ...}`` (stages 1-4 at strides 4, 8, 16 and 32 when
    ``output_stride=32``), as :func:`src.backbones.build_backbone`'s backbones do; ``.channels`` gives their
    widths. The classifier head (pooling, linear) is not built.
    """

    def __init__(self, name: str = "repvgg_a0", output_stride: int = 32, *, se: bool = False) -> None:
        super().__init__()
        check_choice("RepVGGBackbone", "name", name, tuple(CONFIGS))
        net = _repvgg(name, 1, output_stride, se)
        self.output_stride = output_stride
        self.stem = net.stage0
        self.layer1, self.layer2, self.layer3, self.layer4 = net.stage1, net.stage2, net.stage3, net.stage4
        self.channels = {f"layer{i}": net.widths[i] for i in range(1, 5)}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out, x = {}, self.stem(x)
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            out[name] = x
        return out


def deploy(model: nn.Module) -> nn.Module:
    """Re-parameterise every :class:`RepVGGBlock` of ``model`` in place and return it in eval mode.

    The merge uses BN's running statistics, so it is exact only in eval mode:
    ``deploy`` switches the model to eval first.
    """
    if not isinstance(model, nn.Module):
        from .i18n import bad_argument

        raise bad_argument("deploy", "model", "một nn.Module", "an nn.Module", model, TypeError)
    model.eval()
    for module in list(model.modules()):
        if isinstance(module, RepVGGBlock):
            module.reparameterize()
    return model


# ----------------------------------------------------------------------------- lesson 07: the capstone's RepVGG

#: lesson 07's small RepVGG: nine blocks (a stem block, then 2 per stage) as wide as
#: :class:`src.backbones.TinyBackbone` (16, 16, 32, 48, 64), so it sits in the capstone table beside the
#: tiny-backbone models; the paper's A0 / B0 are 30-100x larger than these 64-px mosaics need
TINY_DEPTHS = (1, 2, 2, 2, 2)
TINY_WIDTHS = (16, 16, 32, 48, 64)


class TinyRepVGGBackbone(RepVGGBackbone):
    """:class:`RepVGGBackbone` with the capstone's small configuration (:data:`TINY_DEPTHS`, :data:`TINY_WIDTHS`)."""

    def __init__(self, output_stride: int = 8) -> None:
        nn.Module.__init__(self)
        net = RepVGG(TINY_DEPTHS, TINY_WIDTHS, 1, output_stride=output_stride)
        self.output_stride = output_stride
        self.stem = net.stage0
        self.layer1, self.layer2, self.layer3, self.layer4 = net.stage1, net.stage2, net.stage3, net.stage4
        self.channels = {f"layer{i}": net.widths[i] for i in range(1, 5)}


@register_capstone("repvgg", "RepVGG (FCN head)", "08")
def capstone_repvgg(num_classes: int, se: bool | str = False, output_stride: int = 8) -> nn.Module:
    """Lesson 07's RepVGG: :class:`TinyRepVGGBackbone` at ``output_stride`` with FCN's head (src.models.FCN);
    ``se`` fills every block's attention slot (RepVGG's SE variant) and the head's. BatchNorm momentum as the
    tiny backbone's (short CPU runs)."""
    from .models import FCN
    from .segmodel import set_bn_momentum

    backbone = set_bn_momentum(TinyRepVGGBackbone(output_stride))
    return FCN(num_classes, backbone, se=se)
