"""Dilated (atrous) convolution from scratch, gridding, valid weights and output stride (lesson 02).

Papers:

* Yu & Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", arXiv 1511.07122.
* Chen et al., "DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, Atrous
  Convolution, and Fully Connected CRFs", arXiv 1606.00915 (atrous convolution, output stride).
* Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation" (DeepLabv3),
  arXiv 1706.05587: valid weights vs rate (Fig. 4), multi-grid.
* Wang et al., "Understanding Convolution for Semantic Segmentation", arXiv 1702.08502
  (gridding and hybrid dilated convolution).

An atrous convolution with rate ``r`` applies a ``k x k`` kernel to input taps that are
``r`` pixels apart. Two implementations a learner can follow, neither passes ``dilation=``
to a convolution:

* :func:`atrous_conv2d_zero_insert`: insert ``r - 1`` zeros between kernel taps
  (:func:`dilate_kernel`) and run an ordinary convolution;
* :func:`atrous_conv2d_unfold`: gather the input taps with ``Tensor.unfold`` (a view of all
  windows of the effective size ``r (k - 1) + 1``), keep every ``r``-th one, and contract
  with the kernel.

Both equal ``torch.nn.functional.conv2d(x, w, b, padding=p, dilation=r)`` (see the tests).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._rng import seeded
from .i18n import bad_argument
from .registry import register_core

__all__ = [
    "apply_multi_grid",
    "atrous_conv2d",
    "atrous_conv2d_unfold",
    "atrous_conv2d_zero_insert",
    "atrous_output_size",
    "count_valid_taps",
    "dilate_kernel",
    "effective_kernel_size",
    "gridding_coverage",
    "gridding_footprint",
    "layer4_rates",
    "output_stride_costs",
    "rates_after_last_stride",
    "replace_stride_for",
    "resnet_backbone",
    "same_padding",
    "selfcheck_core",
    "valid_weight_histogram",
]


# --------------------------------------------------------------------------- argument checks
def _int_at_least(function: str, argument: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise bad_argument(function, argument, f"một số nguyên >= {low}", f"an integer >= {low}", value)
    return value


def _check_rate(function: str, rate: Any) -> int:
    return _int_at_least(function, "rate", rate, 1)


def _check_odd_kernel(function: str, kernel_size: Any) -> int:
    k = _int_at_least(function, "kernel_size", kernel_size, 1)
    if k % 2 == 0:
        raise bad_argument(
            function,
            "kernel_size",
            "một số nguyên lẻ (phần đệm 'same' cần nhân có tâm)",
            "an odd integer ('same' padding needs a centred kernel)",
            kernel_size,
        )
    return k


# --------------------------------------------------------------------------- sizes
def effective_kernel_size(kernel_size: int, rate: int) -> int:
    """Span of a ``kernel_size`` kernel with ``rate - 1`` zeros between taps: ``k + (k - 1)(r - 1)``."""
    k = _int_at_least("effective_kernel_size", "kernel_size", kernel_size, 1)
    r = _check_rate("effective_kernel_size", rate)
    return k + (k - 1) * (r - 1)


def atrous_output_size(input_size: int, kernel_size: int, rate: int = 1, padding: int = 0, stride: int = 1) -> int:
    """Output length of an atrous convolution along one axis.

    ``floor((n + 2p - r (k - 1) - 1) / s) + 1``: the usual formula with the kernel
    replaced by its effective size ``r (k - 1) + 1``. Raises ValueError when the
    effective kernel does not fit in the padded input.
    """
    fn = "atrous_output_size"
    n = _int_at_least(fn, "input_size", input_size, 1)
    k = _int_at_least(fn, "kernel_size", kernel_size, 1)
    r = _check_rate(fn, rate)
    p = _int_at_least(fn, "padding", padding, 0)
    s = _int_at_least(fn, "stride", stride, 1)
    span = r * (k - 1) + 1
    if n + 2 * p < span:
        raise bad_argument(
            fn,
            "input_size",
            f"ít nhất {span - 2 * p} (nhân hiệu dụng rộng {span}, phần đệm {p})",
            f"at least {span - 2 * p} (effective kernel {span} wide, padding {p})",
            input_size,
        )
    return (n + 2 * p - span) // s + 1


def same_padding(kernel_size: int, rate: int = 1) -> int:
    """Padding that keeps the size at stride 1: ``r (k - 1) / 2`` (odd ``k`` only)."""
    k = _check_odd_kernel("same_padding", kernel_size)
    return _check_rate("same_padding", rate) * (k - 1) // 2


# --------------------------------------------------------------------------- from scratch
def dilate_kernel(weight: torch.Tensor, rate: int) -> torch.Tensor:
    """Insert ``rate - 1`` zeros between the taps of a kernel (last two dimensions).

    A ``(..., k_h, k_w)`` kernel becomes ``(..., r (k_h - 1) + 1, r (k_w - 1) + 1)``; the
    original taps sit at every ``r``-th position, everything else is zero.
    """
    if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
        raise bad_argument(
            "dilate_kernel",
            "weight",
            "một tensor có ít nhất 2 chiều",
            "a tensor with at least 2 dimensions",
            weight,
            TypeError,
        )
    r = _check_rate("dilate_kernel", rate)
    kh, kw = weight.shape[-2:]
    out = weight.new_zeros((*weight.shape[:-2], r * (kh - 1) + 1, r * (kw - 1) + 1))
    out[..., ::r, ::r] = weight
    return out


def _check_conv_args(function: str, x: Any, weight: Any, bias: Any, rate: Any, padding: Any) -> tuple[int, int, int]:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise bad_argument(function, "x", "một tensor N x C x H x W", "an N x C x H x W tensor", x, TypeError)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        raise bad_argument(
            function, "weight", "một tensor O x C x kH x kW", "an O x C x kH x kW tensor", weight, TypeError
        )
    if weight.shape[1] != x.shape[1]:
        raise bad_argument(
            function,
            "weight",
            f"số kênh vào {x.shape[1]} (bằng số kênh của x)",
            f"{x.shape[1]} input channels (as many as x has)",
            weight,
        )
    if bias is not None and (not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (weight.shape[0],)):
        raise bad_argument(
            function,
            "bias",
            f"None hoặc một tensor kích thước ({weight.shape[0]},)",
            f"None or a ({weight.shape[0]},) tensor",
            bias,
        )
    r = _check_rate(function, rate)
    kh, kw = weight.shape[-2:]
    if padding == "same":
        if kh % 2 == 0 or kw % 2 == 0:
            raise bad_argument(
                function,
                "padding",
                "một số nguyên >= 0 ('same' cần nhân có kích thước lẻ)",
                "an integer >= 0 ('same' needs an odd kernel size)",
                f"'same' with a {kh}x{kw} kernel",
            )
        ph, pw = r * (kh - 1) // 2, r * (kw - 1) // 2
    else:
        _int_at_least(function, "padding", padding, 0)
        ph = pw = padding
    h, w = x.shape[-2:]
    if h + 2 * ph < r * (kh - 1) + 1 or w + 2 * pw < r * (kw - 1) + 1:
        raise bad_argument(
            function,
            "x",
            f"ảnh ít nhất {r * (kh - 1) + 1 - 2 * ph} x {r * (kw - 1) + 1 - 2 * pw} (nhân hiệu dụng không vừa)",
            f"an image of at least {r * (kh - 1) + 1 - 2 * ph} x {r * (kw - 1) + 1 - 2 * pw} (the effective kernel does not fit)",
            x,
        )
    return r, ph, pw


def atrous_conv2d_zero_insert(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, rate: int = 1, padding: int | str = 0
) -> torch.Tensor:
    """Atrous convolution as an ordinary convolution with the zero-inserted kernel."""
    r, ph, pw = _check_conv_args("atrous_conv2d_zero_insert", x, weight, bias, rate, padding)
    return F.conv2d(x, dilate_kernel(weight, r), bias, padding=(ph, pw))


def atrous_conv2d_unfold(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, rate: int = 1, padding: int | str = 0
) -> torch.Tensor:
    """Atrous convolution by gathering the input taps.

    ``Tensor.unfold`` gives a view of every window of the effective size; slicing
    ``[::r, ::r]`` keeps the taps the kernel touches; ``einsum`` multiplies and sums.
    """
    r, ph, pw = _check_conv_args("atrous_conv2d_unfold", x, weight, bias, rate, padding)
    kh, kw = weight.shape[-2:]
    xp = F.pad(x, (pw, pw, ph, ph))
    windows = xp.unfold(2, r * (kh - 1) + 1, 1).unfold(3, r * (kw - 1) + 1, 1)  # N, C, Ho, Wo, eh, ew
    taps = windows[..., ::r, ::r]  # N, C, Ho, Wo, kh, kw
    out = torch.einsum("nchwij,ocij->nohw", taps, weight)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def atrous_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    rate: int = 1,
    padding: int | str = 0,
    method: str = "unfold",
) -> torch.Tensor:
    """Atrous (dilated) 2-D convolution at stride 1, without ``dilation=`` anywhere.

    ``padding`` is an integer or ``"same"`` (odd kernels). ``method`` is ``"unfold"``
    (gather the taps) or ``"zeros"`` (zero-inserted kernel). Equal to
    ``F.conv2d(x, weight, bias, padding=padding, dilation=rate)``.
    """
    if method == "unfold":
        return atrous_conv2d_unfold(x, weight, bias, rate, padding)
    if method == "zeros":
        return atrous_conv2d_zero_insert(x, weight, bias, rate, padding)
    raise bad_argument("atrous_conv2d", "method", "'unfold' hoặc 'zeros'", "'unfold' or 'zeros'", method)


# --------------------------------------------------------------------------- valid weights
def _valid_per_axis(feature_size: int, kernel_size: int, rate: int) -> list[int]:
    """For each position along one axis, how many of the k taps fall inside [0, n)."""
    half = (kernel_size - 1) // 2
    offsets = [rate * (t - half) for t in range(kernel_size)]
    return [sum(0 <= p + o < feature_size for o in offsets) for p in range(feature_size)]


def count_valid_taps(feature_size: int, kernel_size: int, rate: int, row: int, col: int) -> int:
    """Number of taps of a 'same'-padded ``k x k`` atrous filter at (row, col) that land inside the map.

    Taps that fall into the zero padding are not *valid*: they see nothing.
    """
    fn = "count_valid_taps"
    n = _int_at_least(fn, "feature_size", feature_size, 1)
    k = _check_odd_kernel(fn, kernel_size)
    r = _check_rate(fn, rate)
    for name, value in (("row", row), ("col", col)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
            raise bad_argument(fn, name, f"một số nguyên trong [0, {n - 1}]", f"an integer in [0, {n - 1}]", value)
    half = (k - 1) // 2
    inside = [0 <= row + r * (t - half) < n for t in range(k)], [0 <= col + r * (t - half) < n for t in range(k)]
    return sum(inside[0]) * sum(inside[1])


def valid_weight_histogram(feature_size: int, kernel_size: int, rate: int) -> dict[int, float]:
    """``{number of valid taps: fraction of output positions}`` for a 'same'-padded atrous filter.

    The map is ``feature_size x feature_size``; the filter ``kernel_size x kernel_size``
    with rate ``rate``. DeepLabv3 (arXiv 1706.05587, Fig. 4) plots this on a 65 x 65 map
    for a 3 x 3 filter: as the rate grows, the fraction of positions where all 9 taps
    are valid falls, and once ``rate >= 65`` only the centre tap is valid everywhere.
    The keys are sorted; the fractions sum to 1.
    """
    fn = "valid_weight_histogram"
    n = _int_at_least(fn, "feature_size", feature_size, 1)
    k = _check_odd_kernel(fn, kernel_size)
    r = _check_rate(fn, rate)
    per_axis = Counter(_valid_per_axis(n, k, r))
    counts: Counter[int] = Counter()
    for a, ca in per_axis.items():
        for b, cb in per_axis.items():
            counts[a * b] += ca * cb
    total = n * n
    return {taps: counts[taps] / total for taps in sorted(counts)}


# --------------------------------------------------------------------------- gridding
def gridding_footprint(rates: Sequence[int], kernel_size: int = 3) -> torch.Tensor:
    """Which input pixels reach one output pixel after a stack of 'same' atrous layers.

    Returns an integer ``S x S`` tensor (``S`` the receptive field,
    ``1 + sum(r_i (k - 1))``), centred on the output pixel: entry = number of paths
    through the stack from that input pixel; zero means the pixel never contributes.
    Stacking the same rate leaves holes (gridding); hybrid rates such as (1, 2, 3)
    fill the square (Wang et al., arXiv 1702.08502).
    """
    fn = "gridding_footprint"
    k = _check_odd_kernel(fn, kernel_size)
    if isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence) or len(rates) == 0:
        raise bad_argument(
            fn, "rates", "một dãy khác rỗng các số nguyên >= 1", "a non-empty sequence of integers >= 1", rates
        )
    for r in rates:
        _check_rate(fn, r)
    footprint = torch.ones(1, 1, 1, 1, dtype=torch.float64)
    for r in rates:
        kernel = dilate_kernel(torch.ones(1, 1, k, k, dtype=torch.float64), r)
        pad = kernel.shape[-1] - 1
        footprint = F.conv2d(F.pad(footprint, (pad, pad, pad, pad)), kernel)  # 'full' convolution
    return footprint[0, 0].round().long()


def gridding_coverage(rates: Sequence[int], kernel_size: int = 3) -> float:
    """Fraction of the receptive-field square that actually reaches the output pixel."""
    fp = gridding_footprint(rates, kernel_size)
    return float((fp > 0).double().mean())


# --------------------------------------------------------------------------- output stride
def replace_stride_for(output_stride: int) -> list[bool]:
    """torchvision's ``replace_stride_with_dilation`` for a ResNet at output stride 32, 16 or 8."""
    if output_stride not in (8, 16, 32) or isinstance(output_stride, bool):
        raise bad_argument("replace_stride_for", "output_stride", "8, 16 hoặc 32", "8, 16 or 32", output_stride)
    return {32: [False, False, False], 16: [False, False, True], 8: [False, True, True]}[output_stride]


def apply_multi_grid(layer: nn.Sequential, multi_grid: Sequence[int] = (1, 2, 4)) -> nn.Sequential:
    """Set the 3x3 rates of a dilated ResNet stage to ``unit_rate x multi_grid[i]`` (DeepLabv3 Sec. 3.2).

    The unit rate is the stage's dilation (largest rate among its blocks, e.g. 2 for
    layer4 at output stride 16). Changes ``conv2``'s dilation and padding in place
    (the block's ``conv2`` is an ``nn.Conv2d``); returns the stage.
    """
    blocks = list(layer)
    if len(multi_grid) != len(blocks) or any(
        isinstance(g, bool) or not isinstance(g, int) or g < 1 for g in multi_grid
    ):
        raise bad_argument(
            "apply_multi_grid",
            "multi_grid",
            f"{len(blocks)} số nguyên >= 1 (một cho mỗi khối)",
            f"{len(blocks)} integers >= 1 (one per block)",
            multi_grid,
        )
    unit = max(block.conv2.dilation[0] for block in blocks)
    for block, g in zip(blocks, multi_grid):
        rate = unit * g
        block.conv2.dilation = (rate, rate)
        block.conv2.padding = (rate, rate)
    return layer


def rates_after_last_stride(model: nn.Module) -> list[int]:
    """Dilation rates of the 3x3 convolutions that run after the model's last strided layer, in order.

    These layers all work at the final resolution, so :func:`gridding_coverage` of this
    list tells whether the stack (e.g. layer3 + layer4 of a dilated ResNet) leaves holes.
    Residual shortcuts do not change which pixels are reached (a 3x3 kernel contains the
    centre tap), so they can be ignored here.
    """
    if not isinstance(model, nn.Module):
        raise bad_argument("rates_after_last_stride", "model", "một nn.Module", "an nn.Module", model, TypeError)
    rates: list[int] = []
    for module in model.modules():
        stride = getattr(module, "stride", 1)
        stride = stride if isinstance(stride, int) else max(stride)
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)) and stride > 1:
            rates = []
        elif isinstance(module, nn.Conv2d) and tuple(module.kernel_size) == (3, 3):
            rates.append(int(module.dilation[0]))
    return rates


def layer4_rates(model: nn.Module) -> list[int]:
    """The 3x3 dilation rates of the blocks of a ResNet's ``layer4``, in order."""
    return [int(block.conv2.dilation[0]) for block in model.layer4]


def resnet_backbone(output_stride: int = 32, depth: int = 50, multi_grid: Sequence[int] | None = None) -> nn.Sequential:
    """A torchvision ResNet (``weights=None``) up to ``layer4`` at the given output stride (lesson 02).

    A thin wrapper over :class:`src.backbones.ResNetBackbone` with torchvision's
    ``replace_stride_with_dilation`` rates (the first block of a dilated stage
    keeps the previous rate), which torchvision only allows for bottleneck
    ResNets (50, 101); ``multi_grid`` (e.g. ``(1, 2, 4)``, one per block) then
    sets layer4's rates as in DeepLabv3. The returned ``nn.Sequential`` maps an
    image to the last feature map; its ``[-1]`` is ``layer4``.
    """
    from .backbones import ResNetBackbone

    if depth not in (18, 34, 50, 101):
        raise bad_argument("resnet_backbone", "depth", "18, 34, 50 hoặc 101", "18, 34, 50 or 101", depth)
    if depth in (18, 34) and any(replace_stride_for(output_stride)):
        raise bad_argument(
            "resnet_backbone",
            "depth",
            "50 hoặc 101 (torchvision chỉ giãn được ResNet bottleneck)",
            "50 or 101 (torchvision only dilates bottleneck ResNets)",
            depth,
        )
    blocks = 2 if depth == 18 else 3  # units of layer4
    if multi_grid is not None and (
        len(multi_grid) != blocks or any(isinstance(g, bool) or not isinstance(g, int) or g < 1 for g in multi_grid)
    ):
        raise bad_argument(
            "resnet_backbone", "multi_grid", f"{blocks} số nguyên >= 1 (một cho mỗi khối)",
            f"{blocks} integers >= 1 (one per block)", multi_grid,
        )  # fmt: skip
    net = ResNetBackbone(depth, output_stride, multi_grid, torchvision_rates=True)
    return nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)


def output_stride_costs(
    output_strides: Sequence[int] = (32, 16, 8),
    input_size: int = 512,
    depth: int = 50,
    repeats: int = 1,
    warmup: int = 0,
    device: torch.device | str | None = None,
) -> list[dict[str, Any]]:
    """Measure a dilated ResNet at each output stride on one ``input_size``\u00b2 image (eval mode).

    One row per output stride: ``output_stride``, ``feature_size`` (H of layer4's map),
    ``params``, ``flops``, ``peak_memory`` (bytes of activations), ``latency`` (s),
    from :func:`src.profiling.profile`.
    """
    from .profiling import profile

    _int_at_least("output_stride_costs", "input_size", input_size, 32)
    device = torch.device(device) if device is not None else torch.device("cpu")
    rows = []
    for os_ in output_strides:
        with seeded(0):  # same weights and input as before, the caller's RNG untouched
            body = resnet_backbone(os_, depth).to(device).eval()
            x = torch.randn(1, 3, input_size, input_size, device=device)
        with torch.device("meta"):  # shapes only: no memory, no arithmetic
            shape = resnet_backbone(os_, depth)(torch.empty(1, 3, input_size, input_size)).shape
        stats = profile(body, x, repeats=repeats, warmup=warmup)
        rows.append({"output_stride": os_, "feature_size": int(shape[-1]), "channels": int(shape[1]), **stats})
        del body
    return rows


# --------------------------------------------------------------------------- self-check
@register_core("02")
def selfcheck_core(device: torch.device) -> str:
    """Both from-scratch atrous convolutions (values and gradients) vs ``conv2d(dilation=r)``, and
    a forward + backward of the course's dilated backbone at output stride 8, on ``device``."""
    from .models import TinyBackbone

    device = torch.device(device)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 13, 12, generator=g).to(device).requires_grad_(True)
    w = torch.randn(5, 4, 3, 3, generator=g).to(device).requires_grad_(True)
    b = torch.randn(5, generator=g).to(device)
    worst = 0.0
    for rate in (1, 2, 3):
        ref = F.conv2d(x, w, b, padding=rate, dilation=rate)
        ref_grads = torch.autograd.grad(ref.square().sum(), (x, w))
        for method in ("unfold", "zeros"):
            out = atrous_conv2d(x, w, b, rate, "same", method)
            grads = torch.autograd.grad(out.square().sum(), (x, w))
            worst = max(worst, float((out - ref).detach().abs().max()))
            worst = max(
                worst, *(float(((a - c).abs().max()) / (c.abs().max() + 1e-12)) for a, c in zip(grads, ref_grads))
            )
    if worst > 1e-3:
        raise RuntimeError(f"atrous_conv2d differs from conv2d(dilation=r) by {worst:.2e} on {device}")
    body = TinyBackbone(output_stride=8).to(device)
    out = body(torch.randn(2, 3, 64, 64, device=device))["layer4"]
    out.mean().backward()
    grad_ok = all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in body.parameters())
    if tuple(out.shape[-2:]) != (8, 8) or not grad_ok:
        raise RuntimeError(f"dilated backbone at output stride 8 gave {tuple(out.shape)} (finite grads: {grad_ok})")
    return (
        f"dilated: atrous_conv2d (unfold, zeros) == conv2d(dilation=r), values and grads, max err {worst:.1e}; "
        f"TinyBackbone OS8 fwd+bwd -> {tuple(out.shape)} on {device.type}"
    )
