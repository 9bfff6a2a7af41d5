"""The effective receptive field (Luo et al., arXiv 1701.04128): input gradients of one output unit (lesson 01)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ..i18n import bad_argument
from .rules import _check_size

__all__ = ["effective_receptive_field", "erf_coverage"]


def _first_output(out: Any) -> torch.Tensor:
    if isinstance(out, dict):
        out = out["out"] if "out" in out else list(out.values())[-1]
    if isinstance(out, (list, tuple)):
        out = out[-1]
    return out


def effective_receptive_field(
    model: nn.Module,
    input_size: Any,
    samples: int = 8,
    unit: tuple[int, int] | None = None,
    inputs: torch.Tensor | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The ERF (Luo et al., arXiv 1701.04128): mean |d y_unit / d x| over ``samples`` random inputs.

    ``y_unit`` is the sum over channels of one output unit (default the central
    one). Returns an H x W tensor (CPU, float32) normalised to a maximum of 1.
    The model runs in eval mode; ``inputs`` (N x C x H x W) replaces the random
    normal inputs when given.
    """
    if not isinstance(model, nn.Module):
        raise bad_argument("effective_receptive_field", "model", "một nn.Module", "an nn.Module", model, TypeError)
    h, w = _check_size(input_size, "effective_receptive_field")
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise bad_argument("effective_receptive_field", "samples", "một số nguyên >= 1", "an integer >= 1", samples)
    device = torch.device(device) if device is not None else next(model.parameters(), torch.empty(0)).device
    in_channels = next((m.in_channels for m in model.modules() if isinstance(m, nn.Conv2d)), 3)
    if inputs is None:
        gen = torch.Generator().manual_seed(seed)
        inputs = torch.randn(samples, in_channels, h, w, generator=gen)
    elif not isinstance(inputs, torch.Tensor) or inputs.dim() != 4 or tuple(inputs.shape[-2:]) != (h, w):
        raise bad_argument(
            "effective_receptive_field",
            "inputs",
            f"một tensor N x C x {h} x {w}",
            f"an N x C x {h} x {w} tensor",
            inputs,
        )
    was_training = model.training
    model.eval()
    x = inputs.to(device).clone().requires_grad_(True)
    try:
        out = _first_output(model(x))
        oh, ow = out.shape[-2:]
        r, c = unit if unit is not None else (oh // 2, ow // 2)
        if not (0 <= r < oh and 0 <= c < ow):
            raise bad_argument(
                "effective_receptive_field",
                "unit",
                f"một vị trí trong lưới đầu ra {oh} x {ow}",
                f"a position inside the {oh} x {ow} output grid",
                unit,
            )
        out[:, :, r, c].sum().backward()
    finally:
        model.train(was_training)
    erf = x.grad.detach().abs().sum(1).mean(0).float().cpu()
    return erf / erf.max().clamp_min(1e-30)


def erf_coverage(erf: torch.Tensor, box: tuple[int, int, int, int], mass: float = 0.95) -> float:
    """Fraction of the theoretical RF ``box`` (top, left, bottom, right) occupied by the ERF.

    The ERF's area is the smallest number of pixels that together hold ``mass``
    of the total gradient magnitude; the result is that area over the box's area.
    """
    if not isinstance(erf, torch.Tensor) or erf.dim() != 2:
        raise bad_argument("erf_coverage", "erf", "một tensor H x W", "an H x W tensor", erf)
    if not 0 < mass <= 1:
        raise bad_argument("erf_coverage", "mass", "một số trong (0, 1]", "a number in (0, 1]", mass)
    top, left, bottom, right = box
    area = (bottom - top + 1) * (right - left + 1)
    values = erf.flatten().double().sort(descending=True).values
    cumulative = values.cumsum(0) / values.sum()
    needed = int(torch.searchsorted(cumulative, torch.tensor([mass], dtype=torch.float64)).item()) + 1
    return min(needed, values.numel()) / area
