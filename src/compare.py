"""Lesson 07 (capstone): every model of the course on one table, trained with the same budget.

FCN (Long et al., arXiv 1411.4038), DeepLabV3 with ASPP (Chen et al., arXiv
1706.05587), PSPNet with pyramid pooling (Zhao et al., arXiv 1612.01105) and
the light-weight RefineNet (Nekrasov et al., arXiv 1810.03272), DeepLabV3+
(Chen et al., arXiv 1802.02611) and a small RepVGG (Ding et al., arXiv
2101.03697), all about as wide as the tiny backbone, optionally with
Squeeze-and-Excitation (Hu et al., arXiv 1709.01507; SE in the backbone blocks,
scSE in the decoder), and each scored again after the dense CRF (Krähenbühl &
Koltun, arXiv 1210.5644). For every model: val mIoU and boundary F (with and
without CRF), parameters, FLOPs, latency and peak activation memory for one image.

Over seeds (``experiments/capstone.py``, the record ``src/results/capstone.json``):
:func:`noise_rank` ranks the models so that noise cannot reorder them (a model's
rank is 1 + the number of models whose mIoU beats it with Welch t >= 2), and
:func:`load_checkpoint` returns a recorded model trained on seed 0 (fp16 weights,
sha256-checked, shipped in ``src/results/checkpoints/``).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import get_device
from ._rng import seeded
from .i18n import bad_argument, decimal_commas, tr
from .registry import CapstoneEntry, discover_capstone, register_core

__all__ = [
    "MOSAIC_CRF",
    "PROTOCOLS",
    "Result",
    "architectures",
    "as_table",
    "available_checkpoints",
    "best_under_budget",
    "build_model",
    "checkpoint_dir",
    "compare",
    "crf_predictions",
    "load_checkpoint",
    "most_confused",
    "noise_rank",
    "plot_comparison",
    "row_label",
    "save_checkpoint",
    "summary_table",
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


#: the recorded protocol (experiments/capstone.py, 5 seeds) and the lesson's live one (one seed, < 30 s on
#: two idle cores; sized so that 5 seeds of both fit a shared 2-core machine); both at 64 px and output stride 8: an 8x8 map, where ASPP's rates (2, 4, 6) fit
PROTOCOLS = {
    "full": {"variant": "mosaic", "size": 64, "epochs": 5, "train_count": 160, "val_count": 48},
    "live": {"variant": "mosaic", "size": 64, "epochs": 3, "train_count": 80, "val_count": 32},
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
    module: nn.Module | None = field(default=None, repr=False)
    arch: str = ""

    @property
    def label(self) -> str:
        """``model``, or ``model + SE``."""
        return row_label(self.model, self.se)


def row_label(model: str, se: bool) -> str:
    """The name of a table row: ``"FCN"`` or ``"FCN + SE"``."""
    return model + (" + SE" if se else "")


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
    data_seed: int = 0,
    keep_models: bool = False,
) -> list[Result]:
    """Train every (architecture, SE) pair with the same budget and measure it; returns the table rows.

    ``seed`` sets the initial weights and the order of the training images (the same for every model);
    ``data_seed`` the dataset (the same images for every seed). ``keep_models``: each row keeps its
    trained model (``Result.module``, on the CPU, eval mode) for :func:`save_checkpoint`.
    """
    from . import data, metrics, profiling, train

    entries = architectures()
    archs = tuple(entries) if archs is None else archs
    for arch in archs:
        if arch not in entries:
            raise bad_argument("compare", "archs", f"tên trong {tuple(entries)}", f"names in {tuple(entries)}", arch)
    device = torch.device(device) if device is not None else get_device()
    with seeded(data_seed):  # the caller's random state is left as it was (issue 12)
        train_loader, val_loader = data.make_loaders(variant, size, 16, train_count, val_count, data_seed)
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
                train_loader.generator.manual_seed(seed)  # the same image order for every model of a seed
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
                        module=model.cpu().eval() if keep_models else None,
                        arch=arch,
                    )
                )
    return rows


def _fields(row: Result) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in fields(row)}


def as_table(rows: Sequence[Result]):
    """The rows as a pandas DataFrame, rounded for display."""
    import pandas as pd

    skip = ("confusion", "predictions", "module", "arch")
    frame = pd.DataFrame([{k: v for k, v in _fields(r).items() if k not in skip} for r in rows])
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


def noise_rank(groups: Mapping[str, Sequence[float]], threshold: float = 2.0) -> dict[str, int]:
    """A rank that noise cannot reorder: 1 + the number of groups that beat this one with Welch t >= ``threshold``.

    ``groups``: name -> per-seed values (higher is better, >= 2 seeds each). Models whose difference from the
    best stays below the threshold share rank 1; a model is ranked below another only when the record
    shows that the other one is better beyond two standard errors (src.record.welch_t). Used by lesson 07.
    """
    from .record import welch_t

    if not isinstance(groups, Mapping) or len(groups) < 2:
        raise bad_argument("noise_rank", "groups", "một dict tên -> giá trị theo hạt giống, >= 2 nhóm",
                           "a dict name -> per-seed values, >= 2 groups", groups)  # fmt: skip
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise bad_argument("noise_rank", "threshold", "một số > 0", "a number > 0", threshold)
    return {
        name: 1 + sum(welch_t(other, values) >= threshold for key, other in groups.items() if key != name)
        for name, values in groups.items()
    }


def summary_table(rec: Mapping[str, Any] | None = None, digits: int = 3):
    """The recorded capstone table (``src/results/capstone.json``): one row per model, mean ± std over seeds.

    Columns: the noise-respecting rank (:func:`noise_rank` on val mIoU), mIoU and boundary F without and
    with the CRF, parameters, MFLOPs, the median latency over seeds and the peak activation memory.
    """
    import pandas as pd

    from .record import format_mean_std, format_number, load

    rec = load("capstone").data if rec is None else rec
    ranks = noise_rank(rec["groups"])
    rows = []
    for name, m in rec["metrics"].items():
        rows.append(
            {
                tr("hạng", "rank"): ranks[name],
                tr("mô hình", "model"): name,
                "mIoU": format_mean_std(rec["groups"][name], digits).split(" (")[0],
                tr("F biên", "boundary F"): format_mean_std(m["boundary_f1"], digits).split(" (")[0],
                "mIoU + CRF": format_mean_std(m["miou_crf"], digits).split(" (")[0],
                tr("F biên + CRF", "boundary F + CRF"): format_mean_std(m["boundary_f1_crf"], digits).split(" (")[0],
                tr("tham số", "params"): m["params"],
                "MFLOPs": format_number(m["mflops"], 1),
                tr("độ trễ (ms, trung vị)", "latency (ms, median)"): format_number(
                    statistics.median(m["latency_ms"]), 2
                ),
                tr("bộ nhớ đỉnh (MiB)", "peak memory (MiB)"): format_number(m["peak_memory_mib"], 2),
            }
        )
    return pd.DataFrame(rows).sort_values(tr("hạng", "rank"), kind="stable").reset_index(drop=True)


def _points(rows: Sequence[Result] | Mapping[str, Any]) -> list[dict[str, Any]]:
    """Plot points from live rows (one seed) or from the record (mean and std over seeds)."""
    if isinstance(rows, Mapping):
        out = []
        for name, m in rows["metrics"].items():
            out.append(
                {
                    "label": name,
                    "model": m["model"],
                    "se": m["se"],
                    "miou": statistics.fmean(rows["groups"][name]),
                    "miou_std": statistics.stdev(rows["groups"][name]),
                    "bf": statistics.fmean(m["boundary_f1"]),
                    "bf_std": statistics.stdev(m["boundary_f1"]),
                    "bf_crf": statistics.fmean(m["boundary_f1_crf"]),
                    "bf_crf_std": statistics.stdev(m["boundary_f1_crf"]),
                    "latency_ms": statistics.median(m["latency_ms"]),
                    "peak_memory_mib": m["peak_memory_mib"],
                }
            )
        return out
    return [
        {
            "label": r.label,
            "model": r.model,
            "se": r.se,
            "miou": r.miou,
            "miou_std": 0.0,
            "bf": r.boundary_f1,
            "bf_std": 0.0,
            "bf_crf": r.boundary_f1_crf,
            "bf_crf_std": 0.0,
            "latency_ms": r.latency_ms,
            "peak_memory_mib": r.peak_memory_mib,
        }
        for r in rows
    ]


def plot_comparison(rows: Sequence[Result] | Mapping[str, Any]):
    """Left: val mIoU against latency, marker area proportional to peak activation memory (with a size key).
    Right: boundary F without / with CRF (where the CRF acts). ``rows``: the live rows, or the record (then mean ± std over seeds)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    points = _points(rows)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11.5, 4.2))
    colours = {e.label: f"C{i}" for i, e in enumerate(architectures().values())}
    largest = max(p["peak_memory_mib"] for p in points)

    def area(mib: float) -> float:  # marker area ~ memory: the largest model gets 600 pt^2
        return 600.0 * mib / largest

    for p in points:
        a.errorbar(p["latency_ms"], p["miou"], yerr=p["miou_std"] or None, fmt="none", ecolor="grey", lw=1, zorder=1)
        a.scatter(
            p["latency_ms"],
            p["miou"],
            s=area(p["peak_memory_mib"]),
            color=colours.get(p["model"], "grey"),
            marker="^" if p["se"] else "o",
            alpha=0.7,
            edgecolor="black",
            zorder=2,
        )
        a.annotate(p["label"], (p["latency_ms"], p["miou"]), fontsize=7, xytext=(6, 4), textcoords="offset points")
    sizes = sorted({round(largest / 4, 2), round(largest / 2, 2), round(largest, 2)})
    key = [
        Line2D([], [], ls="", marker="o", markersize=math.sqrt(area(m)), markerfacecolor="white",
               markeredgecolor="black", label=decimal_commas(f"{m:g} MiB"))
        for m in sizes
    ]  # fmt: skip
    a.legend(handles=key, title=tr("bộ nhớ đỉnh", "peak memory"), fontsize=7, title_fontsize=7, labelspacing=1.6,
             borderpad=1.0, loc="lower right")  # fmt: skip
    a.set_xlabel(tr("độ trễ cho một ảnh (ms, CPU)", "latency per image (ms, CPU)"))
    a.set_ylabel("val mIoU")
    a.set_title(
        tr("chất lượng và chi phí (diện tích điểm ~ bộ nhớ đỉnh)", "quality vs cost (marker area ~ peak memory)"),
        fontsize=9,
    )
    labels = [p["label"] for p in points]
    x = np.arange(len(points))
    b.bar(x - 0.2, [p["bf"] for p in points], 0.4, yerr=[p["bf_std"] for p in points], capsize=2,
          label=tr("không CRF", "no CRF"))  # fmt: skip
    b.bar(x + 0.2, [p["bf_crf"] for p in points], 0.4, yerr=[p["bf_crf_std"] for p in points], capsize=2,
          label="+ CRF")  # fmt: skip
    b.set_xticks(x, labels, rotation=35, ha="right", fontsize=7)
    b.set_ylabel(tr("điểm F trên biên (kiểm định)", "val boundary F"))
    b.set_ylim(0, 1)
    b.legend(fontsize=8)
    if isinstance(rows, Mapping):
        b.set_title(tr("trung bình ± độ lệch chuẩn theo hạt giống", "mean ± std over seeds"), fontsize=9)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- checkpoints (issues 13 and 15)


def checkpoint_dir() -> Path:
    """Where the capstone's checkpoints are written (``src/results/checkpoints/``, inside the package)."""
    return Path(__file__).resolve().parent / "results" / "checkpoints"


def _index_text() -> str | None:
    resource = resources.files("src").joinpath("results", "checkpoints", "checkpoints.json")
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


def available_checkpoints() -> dict[str, dict[str, Any]]:
    """The shipped checkpoints: name -> ``{"arch", "se", "num_classes", "output_stride", "file", "sha256", ...}``."""
    text = _index_text()
    return {} if text is None else json.loads(text)["checkpoints"]


def save_checkpoint(
    model: nn.Module, name: str, arch: str, num_classes: int, se: bool = False, output_stride: int = 8,
    folder: str | Path | None = None, **info: Any,
) -> Path:  # fmt: skip
    """Write ``model``'s weights in fp16 (``<name>.pt``) and its sha256 in ``checkpoints.json`` beside it.

    Floating-point tensors are stored as float16 (half the bytes; the capstone's models stay under 1 MB),
    integer buffers (BatchNorm's counters) as they are. ``info`` (e.g. the training setting) is stored too.
    """
    if not isinstance(model, nn.Module):
        raise bad_argument("save_checkpoint", "model", "một nn.Module", "an nn.Module", model, TypeError)
    if not isinstance(name, str) or not name or not name.replace("_", "").isalnum():
        raise bad_argument("save_checkpoint", "name", "một tên ngắn như 'fcn'", "a short name such as 'fcn'", name)
    if arch not in architectures():
        raise bad_argument("save_checkpoint", "arch", f"một trong {tuple(architectures())}",
                           f"one of {tuple(architectures())}", arch)  # fmt: skip
    out = Path(folder) if folder is not None else checkpoint_dir()
    out.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    (out / f"{name}.pt").write_bytes(payload)
    index_path = out / "checkpoints.json"
    index = json.loads(index_path.read_text(encoding="utf-8")) if index_path.is_file() else {"checkpoints": {}}
    index["checkpoints"][name] = {
        "arch": arch,
        "se": bool(se),
        "num_classes": int(num_classes),
        "output_stride": int(output_stride),
        "file": f"{name}.pt",
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        **info,
    }
    index_path.write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out / f"{name}.pt"


def load_checkpoint(name: str, folder: str | Path | None = None) -> nn.Module:
    """A shipped capstone model trained on seed 0 (``available_checkpoints()``), its sha256 verified, in eval mode.

    ``folder``: another folder written by :func:`save_checkpoint` (default: the package's). A file whose
    checksum does not match raises ValueError (a corrupt or edited file is never loaded).
    """
    if folder is None:
        text = _index_text()
        index = {} if text is None else json.loads(text)["checkpoints"]
        read = lambda file: resources.files("src").joinpath("results", "checkpoints", file).read_bytes()  # noqa: E731
    else:
        index_path = Path(folder) / "checkpoints.json"
        index = json.loads(index_path.read_text(encoding="utf-8"))["checkpoints"] if index_path.is_file() else {}
        read = lambda file: (Path(folder) / file).read_bytes()  # noqa: E731
    if not isinstance(name, str) or name not in index:
        raise bad_argument("load_checkpoint", "name", f"một trong {sorted(index)}", f"one of {sorted(index)}", name)
    entry = index[name]
    payload = read(entry["file"])
    digest = hashlib.sha256(payload).hexdigest()
    if digest != entry["sha256"]:
        raise ValueError(
            tr(
                f"load_checkpoint: tệp {entry['file']} hỏng hoặc đã bị sửa: sha256 {digest[:12]}..., "
                f"cần {entry['sha256'][:12]}...",
                f"load_checkpoint: the file {entry['file']} is corrupt or was edited: sha256 {digest[:12]}..., "
                f"expected {entry['sha256'][:12]}...",
            )
        )
    state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    with seeded(0):  # building draws random initial weights: leave the caller's random state alone
        model = build_model(entry["arch"], entry["num_classes"], entry["se"], entry["output_stride"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True)
    return model.eval()


@register_core("07")
def selfcheck_core(device: torch.device) -> str:
    """Build every capstone model with and without SE, run one forward/backward each at 64 x 64 on ``device``."""
    x = torch.randn(2, 3, 64, 64, device=device)
    start = time.perf_counter()
    count = 0
    for arch in architectures():
        for se in (False, True):
            model = build_model(arch, 5, se).to(device)
            model(x).mean().backward()
            count += 1
    return f"{count} models forward+backward in {time.perf_counter() - start:.2f} s"


def __getattr__(name: str) -> Any:
    """``ARCHITECTURES`` (keys) and ``NAMES`` (key -> label), computed from the registry when asked for."""
    if name == "ARCHITECTURES":
        return tuple(architectures())
    if name == "NAMES":
        return {key: e.label for key, e in architectures().items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
