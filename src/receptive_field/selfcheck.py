"""Lesson 01's core for ``python -m src.selfcheck``: RF of resnet18 by tracing, an ERF on the device."""

from __future__ import annotations

import torch

from ..registry import register_core
from .chains import conv_chain
from .erf import effective_receptive_field
from .tracer import receptive_field

__all__ = ["selfcheck_core"]


@register_core("01")
def selfcheck_core(device: torch.device) -> str:
    """RF of resnet18 (tracing) and the ERF of a small chain on ``device``: a one-line summary."""
    import time

    from torchvision.models import resnet18

    start = time.perf_counter()
    report = receptive_field(resnet18(weights=None), 224)
    net = conv_chain(layers=4, kernel=3, dilation=2).to(device)
    erf = effective_receptive_field(net, 64, samples=2, device=device)
    chain = receptive_field(net, 64)
    ok = report.size == 435 and chain.size == 17 and erf.shape == (64, 64) and bool(torch.isfinite(erf).all())
    seconds = time.perf_counter() - start
    return (
        f"receptive_field: {'ok' if ok else 'FAILED'} resnet18 RF {report.size} jump {report.stride}, "
        f"chain RF {chain.size}, ERF on {device} {tuple(erf.shape)} in {seconds:.2f} s"
    )
