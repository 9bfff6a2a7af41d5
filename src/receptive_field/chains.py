"""Plain chains of layers: the recurrence by hand, the smallest depth, a conv chain (lesson 01 exercises).

Dumoulin & Visin, arXiv 1603.07285; Araujo et al., Distill 2019.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn

from ..i18n import bad_argument

__all__ = ["conv_chain", "rf_of_chain", "smallest_depth"]


def rf_of_chain(layers: Sequence[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """The recurrence on a chain of ``(kernel, stride, dilation)`` layers: ``[(rf, jump), ...]`` after each."""
    if not isinstance(layers, (list, tuple)):
        raise bad_argument(
            "rf_of_chain",
            "layers",
            "một danh sách (kernel, stride, dilation)",
            "a list of (kernel, stride, dilation)",
            layers,
            TypeError,
        )
    rf, jump, out = 1, 1, []
    for item in layers:
        if (
            not isinstance(item, (list, tuple))
            or len(item) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in item)
        ):
            raise bad_argument(
                "rf_of_chain",
                "layers",
                "các bộ ba số nguyên >= 1 (kernel, stride, dilation)",
                "triples of integers >= 1 (kernel, stride, dilation)",
                item,
            )
        k, s, d = item
        rf += (k - 1) * d * jump
        jump *= s
        out.append((rf, jump))
    return out


def smallest_depth(target_rf: int, kernel: int = 3, stride: int = 1, dilation: int = 1) -> int:
    """The fewest identical ``(kernel, stride, dilation)`` layers whose receptive field reaches ``target_rf``."""
    for arg_name, value, low in (
        ("target_rf", target_rf, 1),
        ("kernel", kernel, 1),
        ("stride", stride, 1),
        ("dilation", dilation, 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise bad_argument("smallest_depth", arg_name, f"một số nguyên >= {low}", f"an integer >= {low}", value)
    if target_rf == 1:
        return 0
    if kernel == 1:
        raise bad_argument(
            "smallest_depth",
            "kernel",
            "một số nguyên >= 2 (nhân 1x1 không làm RF lớn lên)",
            "an integer >= 2 (1x1 kernels never grow the RF)",
            kernel,
        )
    depth, rf, jump = 0, 1, 1
    while rf < target_rf:
        rf += (kernel - 1) * dilation * jump
        jump *= stride
        depth += 1
    return depth


def conv_chain(
    layers: int = 3,
    kernel: int = 3,
    stride: int = 1,
    dilation: int = 1,
    pooling: str = "none",
    channels: int = 8,
    in_channels: int = 3,
) -> nn.Sequential:
    """A plain chain of ``layers`` convolutions (+ ReLU), optionally a 2x2 pooling after every second one.

    Padding keeps the size when ``stride`` is 1 (``dilation * (kernel - 1) // 2``). Used by the explorer.
    """
    for arg_name, value in (
        ("layers", layers),
        ("kernel", kernel),
        ("stride", stride),
        ("dilation", dilation),
        ("channels", channels),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise bad_argument("conv_chain", arg_name, "một số nguyên >= 1", "an integer >= 1", value)
    if pooling not in ("none", "max", "avg"):
        raise bad_argument("conv_chain", "pooling", "'none', 'max' hoặc 'avg'", "'none', 'max' or 'avg'", pooling)
    modules: list[nn.Module] = []
    c = in_channels
    for i in range(layers):
        modules += [nn.Conv2d(c, channels, kernel, stride, dilation * (kernel - 1) // 2, dilation), nn.ReLU()]
        c = channels
        if pooling != "none" and i % 2 == 1:
            modules.append(nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2))
    return nn.Sequential(*modules)
