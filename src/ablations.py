"""Experiment builders: families of models that differ in one part only (lesson 03's ablation).

Moved out of the model modules, so that :mod:`src.deeplab` and :mod:`src.pspnet`
do not import each other. The models are DeepLabV3 (Chen et al., arXiv
1706.05587) with or without ASPP's image-level branch, or without a context
module, and PSPNet (Zhao et al., arXiv 1612.01105).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from .deeplab import DeepLabV3
from .pspnet import PSPNet

__all__ = ["ABLATION", "context_ablation"]

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
    Each model is built right after seeding a forked RNG with ``seed``, so all
    four start from the same backbone weights (the global RNG is left as it was).
    """
    common = {"output_stride": output_stride, "channels": channels, "dropout": 0.1}
    builders = {
        "none": lambda: DeepLabV3(num_classes, backbone, context="none", **common),
        "aspp_no_pooling": lambda: DeepLabV3(
            num_classes, backbone, atrous_rates=atrous_rates, image_pooling=False, **common
        ),
        "aspp": lambda: DeepLabV3(num_classes, backbone, atrous_rates=atrous_rates, **common),
        "pyramid_pooling": lambda: PSPNet(num_classes, backbone, **common),
    }
    models = {}
    for name, build in builders.items():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            models[name] = build()
    return models
