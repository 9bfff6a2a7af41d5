"""DeepLabV3: a dilated backbone and an ASPP head (lesson 03; used by lessons 04, 06 and 07).

Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation",
arXiv 1706.05587 (DeepLabv3); earlier versions: DeepLab v1 (arXiv 1412.7062)
and v2 (arXiv 1606.00915). The backbone (``src.backbones``) keeps the
resolution at output stride 16 or 8 with atrous convolution; the head is
:class:`src.aspp.DeepLabHead`; the logits are upsampled bilinearly to the input
size. ``binary=True`` gives one logit per pixel (sigmoid / binary
cross-entropy) instead of one per class (softmax / cross-entropy).
``context="none"`` swaps ASPP for a plain 1x1 conv + BN + ReLU of the same
width (the "no context module" baseline of the lesson's ablation).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .aspp import DeepLabHead, default_atrous_rates
from .backbones import build_backbone
from .i18n import bad_argument
from .models import BN_MOMENTUM
from .registry import register_core

__all__ = [
    "ABLATION",
    "SE_CHOICES",
    "DeepLabV3",
    "apply_se",
    "context_ablation",
    "resolve_backbone",
    "selfcheck_core",
    "set_bn_momentum",
]

SE_CHOICES = (False, True, "backbone", "decoder", "both")


def set_bn_momentum(module: nn.Module, momentum: float = BN_MOMENTUM) -> nn.Module:
    """Set the momentum of every BatchNorm in ``module`` (short CPU runs need a higher one, see src.models)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum
    return module


def resolve_backbone(
    function: str,
    backbone: str | nn.Module,
    output_stride: int | None,
    multi_grid: Sequence[int] | None,
    default_os: int,
) -> nn.Module:
    """A backbone from a name (built at ``output_stride``) or a module that has ``.channels`` and ``.output_stride``."""
    if isinstance(backbone, str):
        return build_backbone(
            backbone, output_stride=default_os if output_stride is None else output_stride, multi_grid=multi_grid
        )
    if (
        not isinstance(backbone, nn.Module)
        or not hasattr(backbone, "channels")
        or not hasattr(backbone, "output_stride")
    ):
        raise bad_argument(
            function,
            "backbone",
            "tên một mạng xương sống (ví dụ 'resnet50') hoặc một nn.Module có .channels và .output_stride",
            "a backbone name (e.g. 'resnet50') or an nn.Module with .channels and .output_stride",
            backbone,
            TypeError,
        )
    if output_stride is not None and output_stride != backbone.output_stride:
        raise bad_argument(
            function,
            "output_stride",
            f"None hoặc {backbone.output_stride} (output_stride của module backbone đã cho)",
            f"None or {backbone.output_stride} (the output_stride of the given backbone module)",
            output_stride,
        )
    if multi_grid is not None:
        raise bad_argument(
            function, "multi_grid", "None khi backbone là một module (multi-grid do build_backbone đặt)",
            "None when backbone is a module (multi-grid is set by build_backbone)", multi_grid,
        )  # fmt: skip
    return backbone


def apply_se(function: str, model: nn.Module, se: bool | str) -> None:
    """Insert Squeeze-and-Excitation (lesson 06, ``src.se.add_se``) when ``se`` is truthy: True means "both"."""
    if se not in SE_CHOICES or (isinstance(se, int) and not isinstance(se, bool)):
        raise bad_argument(function, "se", f"một trong {SE_CHOICES}", f"one of {SE_CHOICES}", se)
    if se:
        from .se import add_se

        add_se(model, where="both" if se is True else se)


def _check_num_classes(function: str, num_classes: int, binary: bool) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise bad_argument(function, "num_classes", "một số nguyên >= 1", "an integer >= 1", num_classes)
    if binary:
        if num_classes not in (1, 2):
            raise bad_argument(
                function, "num_classes", "1 hoặc 2 khi binary=True", "1 or 2 when binary=True", num_classes
            )
        return 1
    if num_classes < 2:
        raise bad_argument(
            function,
            "num_classes",
            ">= 2 (hoặc dùng binary=True cho một logit)",
            ">= 2 (or binary=True for one logit)",
            num_classes,
        )
    return num_classes


class DeepLabV3(nn.Module):
    """DeepLabV3 = backbone at output stride 16 / 8 + ASPP head + bilinear upsampling; returns logits N x C x H x W.

    ``backbone``: a name from ``src.backbones.BACKBONES`` or a module with
    ``.channels`` and ``.output_stride``. ``output_stride`` (None: 16 for a
    name, the module's own for a module) sets the default ``atrous_rates``
    ((6, 12, 18) at 16, (12, 24, 36) at 8; any other output stride needs
    explicit rates). ``channels`` is the head's width (256 in the paper).
    ``se``: False, True / "both", "backbone" or "decoder" (lesson 06).
    """

    def __init__(
        self,
        backbone: str | nn.Module,
        num_classes: int,
        output_stride: int | None = None,
        multi_grid: Sequence[int] | None = None,
        atrous_rates: Sequence[int] | None = None,
        binary: bool = False,
        se: bool | str = False,
        channels: int = 256,
        image_pooling: bool = True,
        context: str = "aspp",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        out = _check_num_classes("DeepLabV3", num_classes, binary)
        if context not in ("aspp", "none"):
            raise bad_argument("DeepLabV3", "context", "'aspp' hoặc 'none'", "'aspp' or 'none'", context)
        self.backbone = resolve_backbone("DeepLabV3", backbone, output_stride, multi_grid, default_os=16)
        self.output_stride = self.backbone.output_stride
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
        self.atrous_rates, self.binary, self.num_classes = tuple(atrous_rates), bool(binary), num_classes
        in_channels = self.backbone.channels["layer4"]
        self.classifier = DeepLabHead(in_channels, out, atrous_rates, channels, image_pooling, dropout)
        if context == "none":
            self.classifier[0] = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()
            )
        set_bn_momentum(self.classifier)
        apply_se("DeepLabV3", self, se)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise bad_argument("DeepLabV3.forward", "x", "một tensor N x 3 x H x W", "an N x 3 x H x W tensor", x)
        logits = self.classifier(self.backbone(x)["layer4"])
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


@register_core("03")
def selfcheck_core(device: torch.device) -> str:
    """Lesson 03's core on ``device``: a tiny DeepLabV3 forward + backward (batch 2 and batch 1), losses; one line."""
    from .losses import cross_entropy, dice_loss, focal_loss

    device = torch.device(device)
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = DeepLabV3("tiny", 4, output_stride=8, atrous_rates=(2, 4, 6), channels=32).to(device).train()
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


#: the four context modules compared in lesson 03's ablation
ABLATION = ("none", "aspp_no_pooling", "aspp", "pyramid_pooling")


def context_ablation(
    num_classes: int,
    backbone: str = "tiny",
    output_stride: int = 8,
    atrous_rates: Sequence[int] = (2, 4, 6),
    channels: int = 32,
    seed: int = 0,
) -> dict[str, nn.Module]:
    """Lesson 03's ablation: one model per context module, same backbone and head width.

    ``"none"`` (1x1 conv instead of ASPP), ``"aspp_no_pooling"`` (ASPP without
    the image-level branch), ``"aspp"`` (full ASPP) and ``"pyramid_pooling"``
    (PSPNet). The small default rates suit the 8x8 feature map of a 64-px image
    at output stride 8 (rate 12 or more would only see padding there).
    Each model is built right after ``torch.manual_seed(seed)``, so all four
    start from the same backbone weights.
    """
    from .pspnet import PSPNet

    common = {"output_stride": output_stride, "channels": channels, "dropout": 0.1}
    builders = {
        "none": lambda: DeepLabV3(backbone, num_classes, context="none", **common),
        "aspp_no_pooling": lambda: DeepLabV3(
            backbone, num_classes, atrous_rates=atrous_rates, image_pooling=False, **common
        ),
        "aspp": lambda: DeepLabV3(backbone, num_classes, atrous_rates=atrous_rates, **common),
        "pyramid_pooling": lambda: PSPNet(backbone, num_classes, **common),
    }
    models = {}
    for name, build in builders.items():
        torch.manual_seed(seed)
        models[name] = build()
    return models
