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

__all__ = [
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
    """Rows of image / ground truth / prediction (/ errors in red) for ``n`` samples.

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
            wrong = (preds[i] != masks[i]) & (masks[i] != 255)
            err = images[i].copy()
            err[wrong] = [230, 30, 30]
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
