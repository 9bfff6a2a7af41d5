"""Lesson 04's claim: the dense CRF sharpens a coarse network's boundaries (Krähenbühl & Koltun, arXiv 1210.5644).

DeepLab v1/v2 (Chen et al., arXiv 1412.7062, 1606.00915) put the fully
connected CRF after a network whose output stride blurs the boundaries. This
module measures that on the course's data: a small DeepLabV3 (``tiny``
backbone, output stride 16, so a 4x4 feature map on 64-px images; ASPP rates
(1, 2, 3), below the map's side, see :class:`src.aspp.DegenerateASPPWarning`)
is trained on the grey texture ``mosaic`` (each region its own texture,
brightness and contrast), then its validation outputs are scored before and
after :func:`src.crf.dense_crf` (the fast permutohedral path), with the
boundary F-score (the claim) and mIoU (recorded beside it).

Unlike the claims of :mod:`src.claims`, both groups come from *one* trained
network per seed (the CRF is a post-processing step), so :func:`run` trains
once and scores twice; ``experiments/crf_gain.py`` runs it over >= 5 seeds and
stores ``src/results/crf_gain.json`` with :mod:`src.record` (DESIGN's schema;
mIoU in the extra field ``miou``). The protocol sizes and the live scale are
those of :class:`src.claims.Claim` (:data:`CLAIM`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from .claims import Claim
from .i18n import bad_argument

__all__ = [
    "AFTER",
    "BEFORE",
    "CLAIM",
    "CRF_PARAMS",
    "LIVE_SCALE",
    "NAME",
    "boundary_precision_recall",
    "coarse_model",
    "refine",
    "run",
    "scores",
]

NAME = "crf_gain"
BEFORE, AFTER = "before CRF", "after CRF"
#: this claim's live scale: 154 images, 8 epochs (about the cost of lesson 04's earlier live training). Larger
#: than experiments/_common.py's 0.35, at which this coarse model barely learns the textures.
LIVE_SCALE = 0.6

#: CRF parameters for 64-px images. They are lesson 04's earlier values, picked by hand on training
#: images (not on the validation set); theta_alpha is 10 (not 80) because the images are 64 px wide.
CRF_PARAMS: dict[str, float | int] = {
    "iterations": 5,
    "bilateral_weight": 5.0,
    "theta_alpha": 10.0,
    "theta_beta": 13.0,
    "gaussian_weight": 3.0,
    "theta_gamma": 3.0,
}


def coarse_model(num_classes: int) -> nn.Module:
    """The coarse network of the claim: ``DeepLabV3(num_classes, "tiny", output_stride=16, atrous_rates=(1, 2, 3))``."""
    from .deeplab import DeepLabV3

    return DeepLabV3(num_classes, "tiny", output_stride=16, atrous_rates=(1, 2, 3), channels=64)


CLAIM = Claim(
    lesson="04",
    claim_vi=(
        "Trên ảnh ghép vân `mosaic`, CRF kết nối đầy đủ làm điểm F trên biên của một DeepLabV3 thô "
        "(output stride 16) cao hơn hẳn so với trước CRF."
    ),
    claim_en=(
        "On the `mosaic` textures, the fully connected CRF clearly raises the boundary F-score of a coarse "
        "DeepLabV3 (output stride 16) over its output before the CRF."
    ),
    variant="mosaic",
    groups={BEFORE: coarse_model, AFTER: coarse_model},
    better=AFTER,
    worse=BEFORE,
    metric="val_boundary_f1",
    extra_config={
        "output_stride": 16,
        "atrous_rates": [1, 2, 3],
        "feature_map": 4,
        "model": "src.deeplab.DeepLabV3(backbone='tiny', output_stride=16, atrous_rates=(1, 2, 3), channels=64)",
        "crf": "src.crf.dense_crf(method='fast') on the val outputs of the same trained model",
        "crf_params": dict(CRF_PARAMS),
        "crf_params_chosen_on": "training images, by hand (lesson 04's earlier values), not the validation set",
        "boundary_tolerance_px": 2,
    },
)


def scores(pred: torch.Tensor, masks: torch.Tensor, num_classes: int) -> dict[str, float]:
    """``{"val_boundary_f1", "val_miou"}`` of label maps ``pred`` against ``masks`` (both N x H x W)."""
    from . import metrics

    return {
        "val_boundary_f1": metrics.boundary_f1(pred, masks),
        "val_miou": metrics.mean_iou(pred, masks, num_classes),
    }


def boundary_precision_recall(pred: torch.Tensor, masks: torch.Tensor, tolerance: int = 2) -> tuple[float, float]:
    """Precision and recall of the predicted boundary pixels (the two halves of ``src.metrics.boundary_f1``).

    Low precision = spurious boundaries (specks, ragged edges); low recall = true boundaries missed.
    """
    from .metrics import _boundary, _dilate

    pred, masks = torch.as_tensor(pred), torch.as_tensor(masks)
    if pred.shape != masks.shape or pred.dim() != 3:
        raise bad_argument(
            "boundary_precision_recall", "pred", f"nhãn N x H x W như masks {tuple(masks.shape)}",
            f"N x H x W labels like masks {tuple(masks.shape)}", pred,
        )  # fmt: skip
    bp, bt = _boundary(pred), _boundary(masks)
    precision = float((bp & _dilate(bt, tolerance)).sum()) / max(int(bp.sum()), 1)
    recall = float((bt & _dilate(bp, tolerance)).sum()) / max(int(bt.sum()), 1)
    return precision, recall


def refine(
    model: nn.Module,
    dataset: Any,
    device: torch.device | str | None = None,
    crf_params: dict[str, Any] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax outputs of ``model`` on every image of ``dataset`` (eval mode) and the same after the dense CRF.

    ``dataset`` is a :class:`src.data.TextureMosaics` (its ``.images`` are the
    uint8 photos the CRF's bilateral kernel looks at). Returns two N x C x H x W
    tensors on the CPU: ``(probs, refined)``.
    """
    from . import crf

    if not hasattr(dataset, "images") or not hasattr(dataset, "__getitem__"):
        raise bad_argument(
            "refine", "dataset", "một src.data.TextureMosaics (có .images)", "a src.data.TextureMosaics (with .images)",
            dataset, TypeError,
        )  # fmt: skip
    if not isinstance(model, nn.Module):
        raise bad_argument("refine", "model", "một nn.Module", "an nn.Module", model, TypeError)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    params = {**CRF_PARAMS, **(crf_params or {})}
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            probs = torch.softmax(model.to(device)(images.to(device)), 1)
    finally:
        model.train(was_training)
    refined = crf.dense_crf(torch.from_numpy(dataset.images).to(device), probs, method="fast", **params)
    return probs.cpu(), refined.cpu()


def run(
    seed: int = 0,
    scale: float = 1.0,
    device: torch.device | str | None = None,
    progress_bar: bool = False,
    return_outputs: bool = False,
) -> dict[str, dict[str, float]] | tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Train the coarse model for one ``seed`` (``scale`` < 1: the live size), score its val outputs before/after the CRF.

    Returns ``{metric: {"before CRF": value, "after CRF": value}}`` for the
    metrics ``val_boundary_f1`` and ``val_miou``. With ``return_outputs=True``
    also ``{"model", "dataset", "probs", "refined", "history"}`` for a lesson's figure.
    """
    from ._rng import seeded
    from .data import make_loaders
    from .train import fit

    if isinstance(seed, bool) or not isinstance(seed, int):
        raise bad_argument("run", "seed", "một số nguyên >= 0", "an integer >= 0", seed, TypeError)
    if seed < 0:
        raise bad_argument("run", "seed", "một số nguyên >= 0", "an integer >= 0", seed)
    config = CLAIM.config(scale)  # validates scale
    train_loader, val_loader = make_loaders(
        CLAIM.variant, size=CLAIM.image_size, batch_size=CLAIM.batch_size, train_count=config["train_count"],
        val_count=CLAIM.val_count,
    )  # fmt: skip
    dataset = val_loader.dataset
    with seeded(seed):  # as src.claims.run: the draws of seed_everything(seed), the caller's state restored
        model = coarse_model(dataset.num_classes)
        train_loader.generator.manual_seed(seed)
        history = fit(
            model, train_loader, val_loader, epochs=config["epochs"], lr=CLAIM.lr, device=device,
            progress_bar=progress_bar, description="DeepLabV3 OS16",
        )  # fmt: skip
    probs, refined = refine(model, dataset, device)
    masks = torch.from_numpy(dataset.masks.astype("int64"))
    before = scores(probs.argmax(1), masks, dataset.num_classes)
    after = scores(refined.argmax(1), masks, dataset.num_classes)
    values = {metric: {BEFORE: before[metric], AFTER: after[metric]} for metric in before}
    if not return_outputs:
        return values
    outputs = {"model": model, "dataset": dataset, "probs": probs, "refined": refined, "history": history}
    return values, outputs
