"""Figures shared by the lessons: overlays, prediction grids, legends, training curves.

Labels follow :func:`src.set_language`. Figures are plain matplotlib (PNG in
the notebooks). Interactive explorers call :func:`widgets_enabled` to decide
between an ipywidgets UI and a static figure (``SRC_NO_WIDGETS=1``, set by the
notebook build and by nbval, asks for the static one).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch

from .i18n import tr
from .losses import IGNORE_INDEX

#: the colour of wrong pixels in error overlays: yellow, which no class palette of src.data uses
ERROR_COLOUR = (255, 230, 0)

__all__ = [
    "ERROR_COLOUR",
    "colorize",
    "legend_handles",
    "overlay",
    "plot_history",
    "show_dataset",
    "show_predictions",
    "widgets_enabled",
]


def widgets_enabled() -> bool:
    """True when interactive widgets should be shown (ipywidgets importable, SRC_NO_WIDGETS unset)."""
    if os.environ.get("SRC_NO_WIDGETS"):
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def colorize(mask, palette: np.ndarray) -> np.ndarray:
    """An H x W label map as an H x W x 3 uint8 colour image (255 = ignore, drawn white)."""
    mask = _np(mask).astype(np.int64)
    out = np.full((*mask.shape, 3), 255, np.uint8)
    valid = (mask >= 0) & (mask < len(palette))
    out[valid] = palette[mask[valid]]
    return out


def overlay(image, mask, palette: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a colourised label map over an H x W x 3 uint8 image."""
    image = _np(image).astype(np.float64)
    blended = (1 - alpha) * image + alpha * colorize(mask, palette).astype(np.float64)
    return blended.round().clip(0, 255).astype(np.uint8)


def legend_handles(class_names: Sequence[str], palette: np.ndarray) -> list[Patch]:
    """Legend patches, one per class."""
    return [Patch(color=palette[i] / 255.0, label=name) for i, name in enumerate(class_names)]


def show_dataset(dataset, n: int = 4, title: str | None = None):
    """The first ``n`` images of a TextureMosaics dataset with their label maps and a legend."""
    fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.6))
    axes = np.atleast_2d(axes)
    for i in range(n):
        axes[0, i].imshow(dataset.images[i])
        axes[1, i].imshow(overlay(dataset.images[i], dataset.masks[i], dataset.palette, 0.6))
        axes[0, i].set_axis_off()
        axes[1, i].set_axis_off()
    axes[0, 0].set_title(tr("ảnh", "image"), loc="left", fontsize=9)
    axes[1, 0].set_title(tr("nhãn", "labels"), loc="left", fontsize=9)
    fig.legend(
        handles=legend_handles(dataset.class_names, dataset.palette),
        loc="lower center",
        ncol=len(dataset.classes),
        fontsize=8,
        frameon=False,
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def show_predictions(
    images,
    masks,
    preds,
    palette: np.ndarray,
    class_names: Sequence[str] | None = None,
    n: int = 4,
    show_errors: bool = True,
    titles: Sequence[str] | None = None,
):
    """Rows of image / ground truth / prediction (/ errors in :data:`ERROR_COLOUR`) for ``n`` samples.

    ``images`` is N x H x W x 3 uint8; ``masks`` and ``preds`` N x H x W labels.
    """
    images, masks, preds = _np(images), _np(masks), _np(preds)
    n = min(n, len(images))
    cols = 4 if show_errors else 3
    fig, axes = plt.subplots(n, cols, figsize=(2.2 * cols, 2.2 * n), squeeze=False)
    heads = titles or [
        tr("ảnh", "image"),
        tr("nhãn thật", "ground truth"),
        tr("dự đoán", "prediction"),
        tr("chỗ sai", "errors"),
    ]
    for i in range(n):
        axes[i, 0].imshow(images[i])
        axes[i, 1].imshow(colorize(masks[i], palette))
        axes[i, 2].imshow(colorize(preds[i], palette))
        if show_errors:
            wrong = (preds[i] != masks[i]) & (masks[i] != IGNORE_INDEX)
            err = images[i].copy()
            err[wrong] = ERROR_COLOUR
            axes[i, 3].imshow(err)
        for j in range(cols):
            axes[i, j].set_axis_off()
            if i == 0:
                axes[i, j].set_title(heads[j], fontsize=9)
    if class_names is not None:
        fig.legend(
            handles=legend_handles(class_names, palette),
            loc="lower center",
            ncol=min(len(class_names), 5),
            fontsize=8,
            frameon=False,
        )
        fig.tight_layout(rect=(0, 0.05, 1, 1))
    else:
        fig.tight_layout()
    return fig


def plot_history(history, title: str | None = None):
    """Training loss and validation mIoU per epoch."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 2.8))
    epochs = np.arange(1, len(history.train_loss) + 1)
    a.plot(epochs, history.train_loss, "o-", label=tr("huấn luyện", "train"))
    if history.val_loss:
        a.plot(epochs, history.val_loss, "s--", label=tr("kiểm định", "val"))
    a.set_xlabel(tr("epoch", "epoch"))
    a.set_ylabel(tr("hàm mất mát", "loss"))
    a.legend(fontsize=8)
    if history.val_miou:
        b.plot(epochs, history.val_miou, "o-", color="C2")
    b.set_xlabel("epoch")
    b.set_ylabel(tr("mIoU (kiểm định)", "val mIoU"))
    b.set_ylim(0, 1)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _box(ax, x: float, y: float, w: float, h: float, color: str, label: str | None = None) -> None:
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((x - w / 2, y - h / 2), w, h, facecolor=color, edgecolor="black", lw=0.8))
    if label:
        ax.text(x, y, label, ha="center", va="center", fontsize=7)


def _arrow(ax, x0: float, y0: float, x1: float, y1: float) -> None:
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "lw": 0.8})


def multiscale_families():
    """Sketch of the four multi-scale families of DeepLabv3 (arXiv 1706.05587, Fig. 2)."""
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
    titles = [
        tr("(a) kim tự tháp ảnh", "(a) image pyramid"),
        tr("(b) mã hoá - giải mã", "(b) encoder-decoder"),
        tr("(c) tích chập giãn", "(c) atrous convolution"),
        tr("(d) gộp kim tự tháp", "(d) spatial pyramid pooling"),
    ]
    img, feat, out = "#c6dbef", "#fdd0a2", "#c7e9c0"
    a = axes[0]  # image pyramid: three scales, one shared net, merged
    for i, s in enumerate((1.0, 0.7, 0.45)):
        y = 0.8 - 0.3 * i
        _box(a, 0.2, y, 0.22 * s, 0.22 * s, img)
        _arrow(a, 0.33, y, 0.5, y)
        _box(a, 0.6, y, 0.12, 0.12 * s + 0.05, feat)
        _arrow(a, 0.68, y, 0.82, 0.5)
    _box(a, 0.88, 0.5, 0.1, 0.3, out, "∑")
    b = axes[1]  # encoder-decoder: shrinking then growing with skips
    sizes = (0.5, 0.36, 0.24, 0.14)
    for i, s in enumerate(sizes):
        _box(b, 0.08 + 0.11 * i, 0.5, 0.06, s, img if i == 0 else feat)
        _box(b, 0.92 - 0.11 * i, 0.5, 0.06, s, out if i == 0 else feat)
        if i:
            b.annotate(
                "",
                xy=(0.92 - 0.11 * i, 0.5 + s / 2 + 0.04),
                xytext=(0.08 + 0.11 * i, 0.5 + s / 2 + 0.04),
                arrowprops={"arrowstyle": "->", "lw": 0.6, "ls": "--", "connectionstyle": "arc3,rad=-0.25"},
            )
    _box(b, 0.5, 0.5, 0.06, 0.1, feat)
    c = axes[2]  # atrous: resolution kept after a point, growing rates
    for i, (s, label) in enumerate(((0.5, ""), (0.34, ""), (0.24, "r=2"), (0.24, "r=4"), (0.24, "r=8"))):
        _box(c, 0.1 + 0.19 * i, 0.5, 0.1, s, img if i == 0 else feat, label)
        if i:
            _arrow(c, 0.15 + 0.19 * (i - 1), 0.5, 0.05 + 0.19 * i, 0.5)
    d = axes[3]  # spatial pyramid pooling: parallel branches on one map
    _box(d, 0.15, 0.5, 0.14, 0.3, feat)
    for i, label in enumerate(("1×1", "r=6", "r=12", tr("gộp", "pool"))):
        y = 0.85 - 0.23 * i
        _arrow(d, 0.23, 0.5, 0.42, y)
        _box(d, 0.5, y, 0.14, 0.14, feat, label)
        _arrow(d, 0.58, y, 0.75, 0.5)
    _box(d, 0.85, 0.5, 0.12, 0.3, out, "concat")
    for ax, title in zip(axes, titles):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
