"""The base of every segmentation model of the course (lesson 00 onwards; the family of lessons 03-08).

In the spirit of torchvision's ``_SimpleSegmentationModel``
(``torchvision/models/segmentation/_utils.py``): a backbone that returns
feature maps, a head (``classifier``) that turns them into logits, and a
forward that upsamples the logits bilinearly to the input size. The base class
owns what every model shares, so that an architecture is a small subclass
that only builds its head:

* **backbone resolution**: a name for :func:`src.backbones.build_backbone`
  (built at ``output_stride``) or a module with ``.channels`` and
  ``.output_stride``; an ``output_stride`` that contradicts the module raises;
* **output stride**: ``output_stride=None`` means the class default
  (:attr:`SegmentationModel.default_output_stride`) for a name, the module's
  own for a module;
* **the num-classes rule**: ``num_classes >= 1``; 1 means one logit per pixel
  (binary segmentation, sigmoid + BCE, ``model.binary`` is True);
* **the** ``se=`` **option**: False, True (= ``"both"``), ``"backbone"`` or
  ``"decoder"``, filled into the model's attention slots by :func:`src.se.add_se`
  (Hu et al., arXiv 1709.01507; Roy et al., arXiv 1803.02579; lesson 06).

One signature for every model (FCN, DeepLabV3, PSPNet, RefineNet, and any later one)::

    Model(num_classes, backbone="tiny", *, output_stride=None, channels=None, se=False, **head_options)

A subclass sets ``default_output_stride`` and ``default_channels``, lists its
``head_options`` (name -> default) and implements :meth:`build_head`; if its
head needs more than the last stage it overrides :meth:`decode`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_choice, check_image, check_int, check_options, validated
from .backbones import BN_MOMENTUM, build_backbone
from .i18n import bad_argument, tr
from .se import SE_CHOICES, attention_slot

__all__ = ["SE_CHOICES", "ClassifierHead", "SegmentationModel", "resolve_backbone", "set_bn_momentum"]


def set_bn_momentum(module: nn.Module, momentum: float = BN_MOMENTUM) -> nn.Module:
    """Set the momentum of every BatchNorm in ``module`` (short CPU runs need a higher one, see src.backbones)."""
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
        or not isinstance(getattr(backbone, "channels", None), dict)
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


class ClassifierHead(nn.Sequential):
    """Layers run in order, with attention slots: ``context_attention`` after the first layer (the
    context module: ASPP, pyramid pooling) when ``context_channels`` is given, and ``attention`` on the
    features entering the last layer (the 1x1 classifier).

    The numbered children are exactly ``layers``, so a head built from
    ``src.aspp.DeepLabHead``'s children keeps its state_dict keys (``0.*`` ... ``4.*``)
    and loads torchvision's weights with ``strict=True`` (empty slots hold no parameters).
    """

    def __init__(self, *layers: nn.Module, channels: int, context_channels: int | None = None) -> None:
        super().__init__(*layers)
        self.depth = len(layers)
        self.attention = attention_slot(channels)
        if context_channels is not None:
            self.context_attention = attention_slot(context_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = [self[i] for i in range(self.depth)]
        for i, layer in enumerate(layers[:-1]):
            x = layer(x)
            if i == 0 and hasattr(self, "context_attention"):
                x = self.context_attention(x)
        return layers[-1](self.attention(x))


class SegmentationModel(nn.Module):
    """Backbone + head + bilinear upsampling; ``forward`` returns logits N x num_classes x H x W at the input size.

    See the module docstring for the signature and the rules. Attributes:
    ``backbone``, ``classifier`` (the head), ``num_classes``, ``binary``,
    ``output_stride``, ``channels``.
    """

    #: output stride used when ``backbone`` is a name and ``output_stride`` is None
    default_output_stride: ClassVar[int] = 32
    #: width of the head when ``channels`` is None
    default_channels: ClassVar[int] = 256
    #: the head's own keyword options and their defaults
    head_options: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        num_classes: int,
        backbone: str | nn.Module = "tiny",
        *,
        output_stride: int | None = None,
        channels: int | None = None,
        se: bool | str = False,
        multi_grid: Sequence[int] | None = None,
        **head_options: Any,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        hint = tr(
            f" (chữ ký: {name}(num_classes, backbone='tiny', *, output_stride=..., channels=..., se=...))",
            f" (signature: {name}(num_classes, backbone='tiny', *, output_stride=..., channels=..., se=...))",
        )
        self.num_classes = check_int(name, "num_classes", num_classes, 1, hint=hint)
        self.channels = check_int(name, "channels", self.default_channels if channels is None else channels, 1)
        check_choice(name, "se", se, SE_CHOICES)
        check_options(name, head_options, tuple(self.head_options))
        options = {**self.head_options, **head_options}
        self.backbone = resolve_backbone(name, backbone, output_stride, multi_grid, self.default_output_stride)
        self.output_stride = self.backbone.output_stride
        self.classifier = self.build_head(self.backbone.channels, **options)
        set_bn_momentum(self.classifier)
        if se:
            from .se import add_se  # looked up at call time (tests may replace src.se)

            add_se(self, where="both" if se is True else se)

    @property
    def binary(self) -> bool:
        """True when the model has one output channel (binary segmentation: sigmoid, BCE)."""
        return self.num_classes == 1

    def build_head(self, stages: dict[str, int], **options: Any) -> nn.Module:
        """The head, from the backbone's stage widths; ``self.num_classes``, ``self.channels`` and
        ``self.output_stride`` are set. Subclasses must implement it."""
        raise NotImplementedError(
            tr(f"{type(self).__name__} cần định nghĩa build_head", f"{type(self).__name__} must define build_head")
        )

    def decode(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits at feature resolution from the backbone's maps; by default the head on ``layer4``."""
        return self.classifier(features["layer4"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image(f"{type(self).__name__}.forward", x)
        with validated():  # checked once here: the blocks inside do not check again
            logits = self.decode(self.backbone(x))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
