"""Lesson 07 (capstone): every model of the course on one table, trained with the same budget.

FCN (Long et al., arXiv 1411.4038), DeepLabV3 with ASPP (Chen et al., arXiv
1706.05587), PSPNet with pyramid pooling (Zhao et al., arXiv 1612.01105) and
the light-weight RefineNet (Nekrasov et al., arXiv 1810.03272), all on the same
tiny backbone, each with and without Squeeze-and-Excitation (Hu et al., arXiv
1709.01507; SE in the backbone blocks, scSE in the decoder), and each scored
again after the dense CRF (Krähenbühl & Koltun, arXiv 1210.5644). For every
model: val mIoU and boundary F (with and without CRF), parameters, FLOPs,
latency and peak activation memory for one image.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import get_device
from ._rng import seeded
from .i18n import bad_argument, tr
from .registry import CapstoneEntry, discover_capstone, register_core

__all__ = [
    "MOSAIC_CRF",
    "Result",
    "architectures",
    "as_table",
    "best_under_budget",
    "build_model",
    "compare",
    "crf_predictions",
    "most_confused",
    "plot_comparison",
]

#: the CRF parameters lesson 04 uses on the 64-px grey mosaics (DeepLab's defaults, tuned for ~500-px colour
#: photos, over-smooth these small images)
MOSAIC_CRF = {
    "bilateral_weight": 5.0,
    "theta_alpha": 10.0,
    "theta_beta": 13.0,
    "gaussian_weight": 3.0,
    "theta_gamma": 3.0,
}


def architectures() -> dict[str, CapstoneEntry]:
    """The capstone's architectures, in lesson order: every model module's ``@register_capstone`` factory."""
    return discover_capstone()


def build_model(arch: str, num_classes: int, se: bool = False, output_stride: int = 8) -> nn.Module:
    """One of the capstone's architectures (:func:`architectures`) on the tiny backbone, with SE
    (backbone + decoder) when ``se``."""
    entries = architectures()
    if arch not in entries:
        raise bad_argument("build_model", "arch", f"một trong {tuple(entries)}", f"one of {tuple(entries)}", arch)
    return entries[arch].build(num_classes, se="both" if se else False, output_stride=output_stride)


@dataclass
class Result:
    """One row of the capstone table."""

    model: str
    se: bool
    miou: float
    boundary_f1: float
    miou_crf: float
    boundary_f1_crf: float
    params: int
    mflops: float
    latency_ms: float
    peak_memory_mib: float
    train_seconds: float
    confusion: torch.Tensor | None = field(default=None, repr=False)
    predictions: torch.Tensor | None = field(default=None, repr=False)


@torch.no_grad()
def _probabilities(model: nn.Module, images: torch.Tensor, device: torch.device, batch: int = 32) -> torch.Tensor:
    model.eval()
    out = []
    for start in range(0, len(images), batch):
        logits = model(images[start : start + batch].to(device))
        if logits.shape[1] == 1:
            p = torch.sigmoid(logits)
            logits = torch.log(torch.cat([1 - p, p], 1).clamp_min(1e-8))
        out.append(F.softmax(logits, 1).cpu())
    return torch.cat(out)


def crf_predictions(probs: torch.Tensor, images_uint8: np.ndarray, **crf_kwargs) -> torch.Tensor:
    """Labels after the dense CRF (src.crf.dense_crf) for every image of a batch."""
    from .crf import dense_crf

    labels = [dense_crf(img, p, **crf_kwargs).argmax(0) for img, p in zip(images_uint8, probs)]
    return torch.stack([torch.as_tensor(lab) for lab in labels]).long()


def compare(
    variant: str = "mosaic",
    size: int = 64,
    epochs: int = 6,
    train_count: int | None = 192,
    val_count: int | None = 32,
    archs: Sequence[str] | None = None,
    se_options: Sequence[bool] = (False, True),
    crf: bool = True,
    crf_kwargs: dict | None = None,
    lr: float = 3e-3,
    device: torch.device | str | None = None,
    progress_bar: bool = True,
    seed: int = 0,
) -> list[Result]:
    """Train every (architecture, SE) pair with the same budget and measure it; returns the table rows."""
    from . import data, metrics, profiling, train

    entries = architectures()
    archs = tuple(entries) if archs is None else archs
    for arch in archs:
        if arch not in entries:
            raise bad_argument("compare", "archs", f"tên trong {tuple(entries)}", f"names in {tuple(entries)}", arch)
    device = torch.device(device) if device is not None else get_device()
    with seeded(seed):  # the caller's random state is left as it was (issue 12)
        train_loader, val_loader = data.make_loaders(variant, size, 16, train_count, val_count, seed)
    val = val_loader.dataset
    images = torch.stack([val[i][0] for i in range(len(val))])
    masks = torch.from_numpy(val.masks).long()
    # the lattice is 25x faster than the exact N x N path here; parameters: lesson 04's for the mosaics
    crf_kwargs = {"method": "fast", **MOSAIC_CRF, **(crf_kwargs or {})}
    rows = []
    for arch in archs:
        for se in se_options:
            with seeded(seed):  # each model starts from the same state; restored afterwards
                model = build_model(arch, val.num_classes, se)
                label = entries[arch].label + (" + SE" if se else "")
                history = train.fit(
                    model, train_loader, None, epochs, lr, device=device, progress_bar=progress_bar, description=label
                )
                probs = _probabilities(model, images, device)
                preds = probs.argmax(1)
                report = metrics.segmentation_report(preds, masks, val.num_classes)
                if crf:
                    refined = crf_predictions(probs, val.images, **crf_kwargs)
                    report_crf = metrics.segmentation_report(refined, masks, val.num_classes)
                else:
                    report_crf = {"miou": float("nan"), "boundary_f1": float("nan")}
                model.eval()
                one = images[:1].to(device)
                cost = profiling.profile(model, one, repeats=5, warmup=1)
                rows.append(
                    Result(
                        model=entries[arch].label,
                        se=bool(se),
                        miou=report["miou"],
                        boundary_f1=report["boundary_f1"],
                        miou_crf=report_crf["miou"],
                        boundary_f1_crf=report_crf["boundary_f1"],
                        params=cost["params"],
                        mflops=cost["flops"] / 1e6,
                        latency_ms=cost["latency"] * 1e3,
                        peak_memory_mib=cost["peak_memory"] / 2**20,
                        train_seconds=history.seconds,
                        confusion=metrics.confusion_matrix(preds, masks, val.num_classes),
                        predictions=preds,
                    )
                )
    return rows


def as_table(rows: Sequence[Result]):
    """The rows as a pandas DataFrame, rounded for display."""
    import pandas as pd

    frame = pd.DataFrame([{k: v for k, v in asdict(r).items() if k not in ("confusion", "predictions")} for r in rows])
    return frame.round(
        {
            "miou": 3,
            "boundary_f1": 3,
            "miou_crf": 3,
            "boundary_f1_crf": 3,
            "mflops": 1,
            "latency_ms": 2,
            "peak_memory_mib": 2,
            "train_seconds": 1,
        }
    )


def best_under_budget(rows: Sequence[dict], latency_budget_ms: float, key: str = "miou") -> str | None:
    """Name (``model`` + `` + SE``) of the row with the highest ``key`` whose latency fits the budget; None if none."""
    if not (isinstance(latency_budget_ms, (int, float)) and latency_budget_ms > 0):
        raise bad_argument("best_under_budget", "latency_budget_ms", "một số > 0", "a number > 0", latency_budget_ms)
    fitting = [r for r in rows if r["latency_ms"] <= latency_budget_ms]
    if not fitting:
        return None
    best = max(fitting, key=lambda r: (r[key], -r["latency_ms"]))
    return best["model"] + (" + SE" if best["se"] else "")


def most_confused(cm: torch.Tensor) -> tuple[int, int]:
    """(class with the lowest IoU, the class it is most often predicted as) from a confusion matrix."""
    from .metrics import iou_from_confusion

    if not isinstance(cm, torch.Tensor) or cm.dim() != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] < 2:
        raise bad_argument(
            "most_confused", "cm", "một ma trận vuông C x C, C >= 2", "a square C x C matrix, C >= 2", cm
        )
    iou = iou_from_confusion(cm).nan_to_num(nan=2.0)  # absent classes are never the worst
    worst = int(iou.argmin())
    row = cm[worst].clone()
    row[worst] = -1
    return worst, int(row.argmax())


def plot_comparison(rows: Sequence[Result]):
    """Left: val mIoU against latency (marker size ~ peak memory). Right: mIoU without / with CRF."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    colours = {e.label: f"C{i}" for i, e in enumerate(architectures().values())}
    for r in rows:
        a.scatter(
            r.latency_ms,
            r.miou,
            s=30 + 40 * r.peak_memory_mib,
            color=colours[r.model],
            marker="^" if r.se else "o",
            alpha=0.8,
            edgecolor="black",
        )
        a.annotate(
            r.model.split(" ")[0] + (" +SE" if r.se else ""),
            (r.latency_ms, r.miou),
            fontsize=7,
            xytext=(4, 3),
            textcoords="offset points",
        )
    a.set_xlabel(tr("độ trễ cho một ảnh (ms, CPU)", "latency per image (ms, CPU)"))
    a.set_ylabel("val mIoU")
    a.set_title(
        tr("chất lượng và chi phí (cỡ điểm ~ bộ nhớ đỉnh)", "quality vs cost (marker size ~ peak memory)"), fontsize=9
    )
    labels = [r.model.split(" ")[0] + (" +SE" if r.se else "") for r in rows]
    x = np.arange(len(rows))
    b.bar(x - 0.2, [r.miou for r in rows], 0.4, label=tr("không CRF", "no CRF"))
    b.bar(x + 0.2, [r.miou_crf for r in rows], 0.4, label="+ CRF")
    b.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    b.set_ylabel("val mIoU")
    b.set_ylim(0, 1)
    b.legend(fontsize=8)
    fig.tight_layout()
    return fig


@register_core("07")
def selfcheck_core(device: torch.device) -> str:
    """Build all eight models, run one forward/backward each at 64 x 64 on ``device``."""
    x = torch.randn(2, 3, 64, 64, device=device)
    start = time.perf_counter()
    for arch in architectures():
        for se in (False, True):
            model = build_model(arch, 5, se).to(device)
            model(x).mean().backward()
    return f"8 models forward+backward in {time.perf_counter() - start:.2f} s"


def __getattr__(name: str) -> Any:
    """``ARCHITECTURES`` (keys) and ``NAMES`` (key -> label), computed from the registry when asked for."""
    if name == "ARCHITECTURES":
        return tuple(architectures())
    if name == "NAMES":
        return {key: e.label for key, e in architectures().items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
