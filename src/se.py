"""Squeeze-and-Excitation: the SE block, SE-ResNet, spatial SE and scSE (lesson 06).

* Hu, Shen, Albanie, Sun, Wu — *Squeeze-and-Excitation Networks* (arXiv 1709.01507):
  squeeze a feature map to one number per channel (global average pooling),
  excite with two 1x1 convolutions (down by ``reduction``, ReLU, up, sigmoid)
  and rescale every channel by its gate. SE-ResNet puts the block at the end
  of each residual branch, before the addition, with ``reduction = 16``.
* Roy, Navab, Wachinger — *Concurrent Spatial and Channel Squeeze & Excitation
  in Fully Convolutional Networks* (arXiv 1803.02579): ``sSE`` gates every
  *pixel* (a 1x1 conv to one channel, sigmoid); ``scSE`` adds the channel
  (``cSE``) and the spatial recalibrations — meant for segmentation decoders.

:func:`add_se` puts SE into an existing model in place: ``"backbone"`` (SE in
every residual block), ``"decoder"`` (scSE after the decoder's feature blocks)
or ``"both"``. The course's blocks hold explicit *attention slots*
(:func:`attention_slot`: ``self.attention = nn.Identity()`` until filled, in the
spirit of segmentation_models_pytorch's decoders); ``add_se`` swaps a slot for
an SE module, so SE runs in the block's own forward: no forward hooks, and
``print(model)`` shows only modules that run. :func:`record_gates` reads the
sigmoid gates (with temporary hooks: reading, not attaching), which lesson 06
averages per class.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_int, checking
from .i18n import bad_argument, tr
from .registry import register_core

__all__ = [
    "SE_CHOICES",
    "SE_PLACES",
    "SEBlock",
    "add_se",
    "attention_slot",
    "buggy_squeeze",
    "cSE",
    "class_gate_means",
    "record_gates",
    "sSE",
    "scSE",
    "se_forward",
    "se_parameter_overhead",
    "se_resnet18",
    "se_resnet34",
    "se_resnet50",
    "se_resnet101",
    "selfcheck_core",
    "spatial_se",
]

#: where :func:`add_se` can put SE: residual blocks, decoder blocks, or both
SE_PLACES = ("backbone", "decoder", "both")
#: the ``se=`` values of every segmentation model (:mod:`src.segmodel`): True means "both"
SE_CHOICES = (False, True, *SE_PLACES)


def attention_slot(channels: int, kind: str = "decoder") -> nn.Identity:
    """An empty attention slot: an ``nn.Identity`` that records its ``channels`` and its ``kind``.

    A block stores it as ``self.attention`` and calls it in its forward;
    :func:`add_se` replaces it with an ``SEBlock`` (``kind="backbone"``: inside a
    residual branch, before the addition) or an ``scSE`` (``kind="decoder"``).
    """
    if kind not in SE_PLACES[:2]:
        raise bad_argument("attention_slot", "kind", "'backbone' hoặc 'decoder'", "'backbone' or 'decoder'", kind)
    slot = nn.Identity()
    slot.attention_kind, slot.attention_channels = kind, _check_channels("attention_slot", "channels", channels)
    return slot


_check_channels = check_int  # wrong type: TypeError, out of range: ValueError (src._validate)


def _check_input(fn: str, x: object, channels: int | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise bad_argument(fn, "x", "một torch.Tensor", "a torch.Tensor", x, TypeError)
    if x.dim() != 4:
        raise bad_argument(fn, "x", "một tensor N x C x H x W", "an N x C x H x W tensor", x)
    if channels is not None and x.shape[1] != channels:
        raise bad_argument(fn, "x", f"một tensor có {channels} kênh", f"a tensor with {channels} channels", x)
    return x


# ---------------------------------------------------------------- functional forms (exercise references)


def se_forward(
    x: torch.Tensor, w_down: torch.Tensor, b_down: torch.Tensor, w_up: torch.Tensor, b_up: torch.Tensor
) -> torch.Tensor:
    """The SE block as a function: ``x * sigmoid(W_up relu(W_down mean_hw(x) + b_down) + b_up)``.

    ``w_down`` is C/r x C, ``w_up`` is C x C/r (the 1x1 convolutions' weights without the 1x1).
    """
    _check_input("se_forward", x, w_down.shape[1] if w_down.dim() == 2 else None)
    s = x.mean(dim=(2, 3))  # squeeze: N x C, right for any H x W
    z = F.relu(s @ w_down.t() + b_down)  # N x C/r
    gate = torch.sigmoid(z @ w_up.t() + b_up)  # N x C, each in (0, 1)
    return x * gate[:, :, None, None]


def spatial_se(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Spatial SE as a function: ``x * sigmoid(sum_c weight_c x_c + bias)``, one gate per pixel."""
    _check_input("spatial_se", x, weight.numel())
    q = torch.sigmoid(torch.einsum("nchw,c->nhw", x, weight.reshape(-1)) + bias)
    return x * q[:, None]


def se_parameter_overhead(channels: list[int] | tuple[int, ...], reduction: int = 16) -> int:
    """Parameters that SE blocks add (biases included): ``sum_C 2 C (C // r) + C // r + C``.

    ``channels`` lists the width C of every SE block; the squeeze width is ``max(1, C // r)``.
    Hu et al. quote the weight part only, ``(2 / r) sum_s N_s C_s^2``.
    """
    _check_channels("se_parameter_overhead", "reduction", reduction)
    total = 0
    for c in channels:
        _check_channels("se_parameter_overhead", "channels", c)
        hidden = max(1, c // reduction)
        total += 2 * c * hidden + hidden + c
    return total


def buggy_squeeze(x: torch.Tensor) -> torch.Tensor:
    """The squeeze of the Vietnamese SE post, kept to show its bug: ``F.avg_pool2d(x, kernel_size=x.size(3))``.

    It averages square W x W windows, so for H != W it does not pool the whole
    map: H < 2W keeps only the top W rows (silently wrong), H >= 2W returns
    several rows, H < W raises. Use ``x.mean((2, 3))`` / ``AdaptiveAvgPool2d(1)``.
    """
    return F.avg_pool2d(x, kernel_size=x.size(3))


# ---------------------------------------------------------------- modules


class SEBlock(nn.Module):
    """Squeeze (global average pooling) → 1x1 conv down → ReLU → 1x1 conv up → sigmoid → scale the channels.

    Same parameters as ``torchvision.ops.SqueezeExcitation(input_channels, internal_neurons)``
    (``down`` ↔ ``fc1``, ``up`` ↔ ``fc2``). The gate is computed by ``self.sigmoid``,
    so a forward hook on it sees the N x C x 1 x 1 excitation (see :func:`record_gates`).
    """

    def __init__(self, input_channels: int, internal_neurons: int) -> None:
        super().__init__()
        _check_channels("SEBlock", "input_channels", input_channels)
        _check_channels("SEBlock", "internal_neurons", internal_neurons, 1, input_channels)
        self.input_channels = input_channels
        self.internal_neurons = internal_neurons
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.down = nn.Conv2d(input_channels, internal_neurons, 1)
        self.relu = nn.ReLU(inplace=True)
        self.up = nn.Conv2d(internal_neurons, input_channels, 1)
        self.sigmoid = nn.Sigmoid()

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The excitation, N x C x 1 x 1, each value in (0, 1)."""
        return self.sigmoid(self.up(self.relu(self.down(self.squeeze(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if checking():  # called directly; inside a model the input was checked once
            _check_input("SEBlock.forward", x, self.input_channels)
        return x * self.gate(x)


cSE = SEBlock  # Roy et al.'s name for channel SE


class sSE(nn.Module):
    """Spatial squeeze, channel excitation (Roy et al.): a 1x1 conv to one map, sigmoid, scale every pixel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = _check_channels("sSE", "channels", channels)
        self.conv = nn.Conv2d(channels, 1, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if checking():  # called directly; inside a model the input was checked once
            _check_input("sSE.forward", x, self.channels)
        return x * self.sigmoid(self.conv(x))


class scSE(nn.Module):
    """Concurrent spatial and channel SE (Roy et al., arXiv 1803.02579): ``cSE(x) + sSE(x)``."""

    def __init__(self, channels: int, reduction: int = 2) -> None:
        super().__init__()
        _check_channels("scSE", "channels", channels)
        _check_channels("scSE", "reduction", reduction)
        self.cse = SEBlock(channels, max(1, channels // reduction))
        self.sse = sSE(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cse(x) + self.sse(x)


# ---------------------------------------------------------------- adding SE to a model


def _slots(model: nn.Module, kind: str) -> list[tuple[nn.Module, str, str, int]]:
    """(parent, attribute, qualified name, channels) of every attention slot of ``kind``, empty or filled."""
    found = []
    for parent_name, parent in model.named_modules():
        for leaf, child in parent.named_children():
            if getattr(child, "attention_kind", None) == kind:
                name = f"{parent_name}.{leaf}" if parent_name else leaf
                found.append((parent, leaf, name, child.attention_channels))
    return found


def _torchvision_sites(model: nn.Module, kind: str) -> list[tuple[nn.Module, str, str, int]]:
    """Sites in torchvision modules, which have no slots: the residual branch's last BatchNorm
    (``bn3`` / ``bn2``), and in torchvision's ``DeepLabHead`` the ASPP and the features entering the 1x1 classifier.
    A site is filled by swapping the module for ``Sequential(module, SE)`` (explicit, no hook)."""
    from torchvision.models.resnet import BasicBlock, Bottleneck
    from torchvision.models.segmentation.deeplabv3 import DeepLabHead

    found = []
    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        if kind == "backbone" and isinstance(module, (Bottleneck, BasicBlock)):
            leaf = "bn3" if isinstance(module, Bottleneck) else "bn2"
            bn = getattr(module, leaf)
            channels = (bn[0] if isinstance(bn, nn.Sequential) else bn).num_features
            found.append((module, leaf, prefix + leaf, channels))
        elif kind == "decoder" and isinstance(module, DeepLabHead):
            found.append((module, "0", prefix + "0", module[1].in_channels))
            found.append((module, "3", prefix + "3", module[4].in_channels))
    return found


def _decoder_sites(model: nn.Module) -> list[tuple[str, nn.Module, int]]:
    """(name, module, channels) of every place that gets an scSE; see :func:`add_se`."""
    sites = _slots(model, "decoder") + _torchvision_sites(model, "decoder")
    return [(name, getattr(parent, leaf), channels) for parent, leaf, name, channels in sites]


def _filled(module: nn.Module) -> bool:
    """True when a site already holds SE: the SE module itself (a slot) or ``Sequential(module, SE)``."""
    if isinstance(module, (SEBlock, scSE)):
        return True
    return isinstance(module, nn.Sequential) and len(module) == 2 and isinstance(module[1], (SEBlock, scSE))


def add_se(model: nn.Module, where: str = "backbone", reduction: int = 16) -> nn.Module:
    """Insert Squeeze-and-Excitation into ``model`` in place and return it.

    ``"backbone"``: every backbone attention slot (the residual branch of
    ``src.backbones.BasicBlock``, after ``bn2``, before the addition) gets an
    ``SEBlock(C, max(1, C // reduction))``, as in SE-ResNet; in torchvision's
    ``BasicBlock`` / ``Bottleneck`` (no slot) the branch's last BatchNorm becomes
    ``Sequential(bn, SEBlock)``, the same place. ``"decoder"``: every decoder
    slot gets an ``scSE(C, reduction=2)`` (Roy et al.): after ASPP, pyramid
    pooling and each RefineNet block, and on the features entering a head's 1x1
    classifier (in torchvision's ``DeepLabHead``: ``Sequential(module, scSE)``).
    ``"both"``: both. Calling it twice adds nothing new.
    """
    if not isinstance(model, nn.Module):
        raise bad_argument("add_se", "model", "một nn.Module", "an nn.Module", model, TypeError)
    if where not in SE_PLACES:
        raise bad_argument(
            "add_se", "where", "'backbone', 'decoder' hoặc 'both'", "'backbone', 'decoder' or 'both'", where
        )
    _check_channels("add_se", "reduction", reduction)
    found = 0
    for kind in ("backbone", "decoder"):
        if where not in (kind, "both"):
            continue
        for parent, leaf, _name, channels in _slots(model, kind) + _torchvision_sites(model, kind):
            found += 1
            current = getattr(parent, leaf)
            if _filled(current):
                continue
            block = SEBlock(channels, max(1, channels // reduction)) if kind == "backbone" else scSE(channels)
            if isinstance(current, nn.Identity):  # an attention slot: the SE module takes its place
                block.attention_kind, block.attention_channels = kind, channels
                setattr(parent, leaf, block)
            else:  # a torchvision module without a slot
                parent.add_module(leaf, nn.Sequential(current, block))
    if found == 0:
        raise bad_argument(
            "add_se",
            "model",
            f"một mô hình có chỗ để thêm SE ({where}): khối phần dư hoặc khối giải mã",
            f"a model with a place for SE ({where}): residual blocks or decoder blocks",
            type(model).__name__,
        )
    return model


def _se_resnet(depth: int, num_classes: int, reduction: int, **kwargs) -> nn.Module:
    from torchvision import models

    _check_channels(f"se_resnet{depth}", "num_classes", num_classes)
    net = getattr(models, f"resnet{depth}")(weights=None, num_classes=num_classes, **kwargs)
    return add_se(net, "backbone", reduction)


def se_resnet18(num_classes: int = 1000, reduction: int = 16, **kwargs) -> nn.Module:
    """SE-ResNet-18: torchvision's ResNet-18 (no weights) with SE in every BasicBlock."""
    return _se_resnet(18, num_classes, reduction, **kwargs)


def se_resnet34(num_classes: int = 1000, reduction: int = 16, **kwargs) -> nn.Module:
    """SE-ResNet-34: torchvision's ResNet-34 (no weights) with SE in every BasicBlock."""
    return _se_resnet(34, num_classes, reduction, **kwargs)


def se_resnet50(num_classes: int = 1000, reduction: int = 16, **kwargs) -> nn.Module:
    """SE-ResNet-50 (Hu et al., Table 1): torchvision's ResNet-50 (no weights) with SE in every Bottleneck."""
    return _se_resnet(50, num_classes, reduction, **kwargs)


def se_resnet101(num_classes: int = 1000, reduction: int = 16, **kwargs) -> nn.Module:
    """SE-ResNet-101: torchvision's ResNet-101 (no weights) with SE in every Bottleneck."""
    return _se_resnet(101, num_classes, reduction, **kwargs)


# ---------------------------------------------------------------- looking at the gates


@contextlib.contextmanager
def record_gates(model: nn.Module) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Within the ``with`` block, collect every SE block's gates: ``{name: [N x C tensors]}`` (detached, CPU)."""
    gates: dict[str, list[torch.Tensor]] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, SEBlock):
            gates[name] = []

            def hook(_m: nn.Module, _i: tuple, out: torch.Tensor, key: str = name) -> None:
                gates[key].append(out.detach().flatten(1).cpu())

            handles.append(module.sigmoid.register_forward_hook(hook))
    if not handles:
        raise bad_argument(
            "record_gates", "model", "một mô hình có SEBlock", "a model containing SEBlocks", type(model).__name__
        )
    try:
        yield gates
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def class_gate_means(
    model: nn.Module, images: torch.Tensor, masks: torch.Tensor, num_classes: int, batch_size: int = 32
) -> dict[str, torch.Tensor]:
    """Mean SE gate per class: ``{SE block name: num_classes x C}`` (eval mode).

    An SE gate belongs to a whole image, so each image is attributed to its
    dominant class (the label covering most pixels); a class never dominant
    gets NaN.
    """
    if images.dim() != 4 or masks.dim() != 3 or images.shape[0] != masks.shape[0]:
        raise bad_argument(
            "class_gate_means", "images/masks", "N x 3 x H x W và N x H x W", "N x 3 x H x W and N x H x W", images
        )
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with record_gates(model) as gates:
        for start in range(0, images.shape[0], batch_size):
            model(images[start : start + batch_size].to(device))
    model.train(was_training)
    counts = torch.stack([torch.bincount(m.flatten().clamp(max=num_classes), minlength=num_classes + 1) for m in masks])
    dominant = counts[:, :num_classes].argmax(1)
    result = {}
    for name, parts in gates.items():
        g = torch.cat(parts)
        means = torch.full((num_classes, g.shape[1]), float("nan"))
        for k in range(num_classes):
            if (dominant == k).any():
                means[k] = g[dominant == k].mean(0)
        result[name] = means
    return result


@register_core("06")
def selfcheck_core(device: torch.device) -> str:
    """SE-ResNet-18 and a tiny FCN with SE everywhere: forward + backward on ``device``; a one-line summary."""
    from .models import FCN, count_parameters

    net = se_resnet18(num_classes=10).to(device)  # seeded by python -m src.selfcheck (src._rng.seeded(0))
    x = torch.randn(2, 3, 64, 48, device=device)  # non-square on purpose
    net(x).sum().backward()
    fcn = add_se(FCN(5), "both", reduction=4).to(device)
    out = fcn(x)
    out.sum().backward()
    ok = all(p.grad is not None and torch.isfinite(p.grad).all() for p in fcn.parameters() if p.requires_grad)
    return tr(
        f"se: SE-ResNet-18 {count_parameters(net)} tham số, FCN+SE đầu ra {tuple(out.shape)}, gradient {'hữu hạn' if ok else 'LỖI'}",
        f"se: SE-ResNet-18 {count_parameters(net)} params, FCN+SE output {tuple(out.shape)}, gradients {'finite' if ok else 'BROKEN'}",
    )
