"""Small image encoders for the explorer: the photo as JPEG and ERF heat-maps as PNG data URLs (lesson 01)."""

from __future__ import annotations

import base64
import io

import numpy as np
import torch

__all__ = ["erf_png", "jpeg_data_url"]


def _png(rgba: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def jpeg_data_url(photo: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def erf_png(erf: torch.Tensor, long_side: int = 96, levels: int = 32) -> str:
    """An ERF heat-map (H x W, max 1) as a small palette PNG data URL: ``levels`` inferno colours, alpha = sqrt(ERF).

    A palette of 32 levels with per-entry transparency keeps each map a few KiB (the exported page holds dozens).
    """
    import matplotlib
    from PIL import Image

    h, w = erf.shape
    scale = min(1.0, long_side / max(h, w))
    small = torch.nn.functional.interpolate(
        erf[None, None].float(), size=(max(1, round(h * scale)), max(1, round(w * scale))), mode="area"
    )[0, 0]
    value = (small / small.max().clamp_min(1e-30)).sqrt().numpy()
    index = np.clip(np.rint(value * (levels - 1)), 0, levels - 1).astype(np.uint8)
    steps = np.linspace(0, 1, levels)
    palette = (matplotlib.colormaps["inferno"](steps)[:, :3] * 255).astype(np.uint8)
    alpha = (np.clip(steps * 1.6, 0, 1) * 255).astype(np.uint8)
    image = Image.fromarray(index, mode="P")
    image.putpalette(palette.flatten().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True, transparency=alpha.tobytes())
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
