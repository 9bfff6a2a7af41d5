"""Loss functions for segmentation: cross-entropy, sigmoid BCE, Dice, focal (lesson 03).

- Cross-entropy over softmax (multi-class), with an ignore index and class weights.
- Binary cross-entropy with logits: one logit per pixel and a sigmoid, the
  binary head of DeepLab-style models.
- Dice loss, 1 - 2|P∩G| / (|P| + |G|) per class on probabilities (Milletari et
  al., "V-Net", arXiv 1606.04797), insensitive to how many pixels a class has.
- Focal loss, -(1 - p_t)^gamma log p_t (Lin et al., "Focal Loss for Dense Object
  Detection", arXiv 1708.02002): down-weights pixels that are already right.

Every function takes raw logits (``N x C x H x W``; ``N x 1 x H x W`` or
``N x H x W`` for the binary ones) and integer targets ``N x H x W`` in which
``ignore_index`` (255) marks pixels that count for nothing. A one-channel input
is treated as binary (sigmoid) by :func:`dice_loss` and :func:`focal_loss`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .i18n import bad_argument

__all__ = ["IGNORE_INDEX", "bce_with_logits", "cross_entropy", "dice_loss", "focal_loss"]

IGNORE_INDEX = 255


def _check(function: str, logits: torch.Tensor, target: torch.Tensor, binary_ok: bool = True) -> torch.Tensor:
    """Validate shapes; return ``logits`` as N x C x H x W."""
    if not isinstance(logits, torch.Tensor) or not logits.dtype.is_floating_point:
        raise bad_argument(
            function, "logits", "một tensor số thực (logit)", "a float tensor of logits", logits, TypeError
        )
    if not isinstance(target, torch.Tensor):
        raise bad_argument(
            function, "target", "một tensor nhãn N x H x W", "an N x H x W tensor of labels", target, TypeError
        )
    if binary_ok and logits.dim() == 3:
        logits = logits.unsqueeze(1)
    if logits.dim() != 4:
        raise bad_argument(function, "logits", "một tensor N x C x H x W", "an N x C x H x W tensor", logits)
    if target.dim() != 3 or target.shape != (logits.shape[0], *logits.shape[2:]):
        n, _, h, w = logits.shape
        raise bad_argument(
            function,
            "target",
            f"kích thước {(n, h, w)} (N x H x W, khớp với logits {tuple(logits.shape)})",
            f"shape {(n, h, w)} (N x H x W, matching logits {tuple(logits.shape)})",
            target,
        )
    if target.dtype.is_floating_point and logits.shape[1] > 1:
        raise bad_argument(function, "target", "nhãn kiểu số nguyên (long)", "integer (long) labels", target, TypeError)
    return logits


def cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    reduction: str = "mean",
) -> torch.Tensor:
    """Softmax cross-entropy, -log softmax(z)_y, averaged over non-ignored pixels (weighted by ``weight[y]``)."""
    logits = _check("cross_entropy", logits, target, binary_ok=False)
    if logits.shape[1] < 2:
        raise bad_argument(
            "cross_entropy",
            "logits",
            "ít nhất 2 kênh (dùng bce_with_logits cho 1 kênh)",
            "at least 2 channels (use bce_with_logits for one)",
            logits,
        )
    if weight is not None and (not isinstance(weight, torch.Tensor) or weight.shape != (logits.shape[1],)):
        raise bad_argument(
            "cross_entropy",
            "weight",
            f"một tensor {logits.shape[1]} phần tử (một trọng số mỗi lớp)",
            f"a tensor of {logits.shape[1]} values (one per class)",
            weight,
        )
    return F.cross_entropy(logits, target.long(), weight=weight, ignore_index=ignore_index, reduction=reduction)


def bce_with_logits(
    logits: torch.Tensor, target: torch.Tensor, pos_weight: float | None = None, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Binary cross-entropy on one logit per pixel (sigmoid), mean over non-ignored pixels; target 0/1."""
    logits = _check("bce_with_logits", logits, target)
    if logits.shape[1] != 1:
        raise bad_argument(
            "bce_with_logits",
            "logits",
            "một kênh (N x 1 x H x W hoặc N x H x W)",
            "one channel (N x 1 x H x W or N x H x W)",
            logits,
        )
    valid = target != ignore_index
    y = torch.where(valid, target, torch.zeros_like(target)).to(logits.dtype)
    pw = None if pos_weight is None else torch.as_tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    loss = F.binary_cross_entropy_with_logits(logits[:, 0], y, pos_weight=pw, reduction="none")
    valid = valid.to(logits.dtype)
    return (loss * valid).sum() / valid.sum().clamp(min=1)


def _probabilities_and_onehot(logits: torch.Tensor, target: torch.Tensor, ignore_index: int):
    """Per-class probabilities and one-hot targets (N x K x H x W), and the valid-pixel mask (N x 1 x H x W)."""
    valid = (target != ignore_index).unsqueeze(1).to(logits.dtype)
    labels = torch.where(target != ignore_index, target, torch.zeros_like(target)).long()
    if logits.shape[1] == 1:  # binary: foreground probability and its complement
        p = torch.sigmoid(logits)
        probs = torch.cat([1 - p, p], dim=1)
        onehot = F.one_hot(labels.clamp(max=1), 2).permute(0, 3, 1, 2).to(logits.dtype)
    else:
        probs = logits.softmax(1)
        onehot = F.one_hot(labels, logits.shape[1]).permute(0, 3, 1, 2).to(logits.dtype)
    return probs, onehot, valid


def dice_loss(
    logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Soft Dice loss: mean over classes of 1 - (2 sum(p g) + s) / (sum(p) + sum(g) + s), sums over the batch.

    Multi-class logits go through a softmax; one channel through a sigmoid
    (then only the foreground class is scored, as is usual for binary Dice).
    """
    logits = _check("dice_loss", logits, target)
    if not (isinstance(smooth, (int, float)) and smooth >= 0):
        raise bad_argument("dice_loss", "smooth", "một số >= 0", "a number >= 0", smooth)
    probs, onehot, valid = _probabilities_and_onehot(logits, target, ignore_index)
    if logits.shape[1] == 1:
        probs, onehot = probs[:, 1:], onehot[:, 1:]
    probs, onehot = probs * valid, onehot * valid
    dims = (0, 2, 3)
    intersection = (probs * onehot).sum(dims)
    dice = (2 * intersection + smooth) / (probs.sum(dims) + onehot.sum(dims) + smooth)
    return 1 - dice.mean()


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2.0,
    alpha: float | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Focal loss -(1 - p_t)^gamma log p_t, mean over non-ignored pixels; gamma = 0 gives cross-entropy.

    ``alpha`` (binary only) weights the foreground by ``alpha`` and the background by ``1 - alpha``.
    """
    logits = _check("focal_loss", logits, target)
    if not (isinstance(gamma, (int, float)) and gamma >= 0):
        raise bad_argument("focal_loss", "gamma", "một số >= 0", "a number >= 0", gamma)
    if alpha is not None and (logits.shape[1] != 1 or not (isinstance(alpha, (int, float)) and 0 <= alpha <= 1)):
        raise bad_argument(
            "focal_loss",
            "alpha",
            "None, hoặc một số trong [0, 1] với logits một kênh",
            "None, or a number in [0, 1] with one-channel logits",
            alpha,
        )
    valid = target != ignore_index
    labels = torch.where(valid, target, torch.zeros_like(target)).long()
    if logits.shape[1] == 1:
        z = logits[:, 0]
        y = labels.clamp(max=1).to(logits.dtype)
        log_pt = -F.binary_cross_entropy_with_logits(z, y, reduction="none")
    else:
        log_pt = logits.log_softmax(1).gather(1, labels.unsqueeze(1))[:, 0]
    loss = -((1 - log_pt.exp()) ** gamma) * log_pt
    if alpha is not None:
        loss = loss * torch.where(labels > 0, alpha, 1 - alpha)
    valid = valid.to(logits.dtype)
    return (loss * valid).sum() / valid.sum().clamp(min=1)
