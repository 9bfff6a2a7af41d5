"""Tests for src.losses: agreement with torch, ignore index, weights, Dice and focal laws, bad shapes."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import src
from src.losses import bce_with_logits, cross_entropy, dice_loss, focal_loss


def _batch(seed=0, n=2, c=4, h=5, w=6, ignore=True):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=g)
    target = torch.randint(0, c, (n, h, w), generator=g)
    if ignore:
        target[0, 0, :3] = 255
    return logits, target


def test_cross_entropy_matches_torch_with_ignore_and_weights():
    logits, target = _batch()
    torch.testing.assert_close(cross_entropy(logits, target), F.cross_entropy(logits, target, ignore_index=255))
    weight = torch.tensor([1.0, 2.0, 0.5, 3.0])
    torch.testing.assert_close(
        cross_entropy(logits, target, weight=weight), F.cross_entropy(logits, target, weight=weight, ignore_index=255)
    )
    # an ignored pixel does not change the loss, whatever its logits
    changed = logits.clone()
    changed[0, :, 0, :3] = 100.0
    torch.testing.assert_close(cross_entropy(changed, target), cross_entropy(logits, target))


def test_bce_with_logits_matches_torch_and_accepts_both_shapes():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(3, 1, 4, 4, generator=g)
    y = torch.randint(0, 2, (3, 4, 4), generator=g)
    expected = F.binary_cross_entropy_with_logits(z[:, 0], y.float())
    torch.testing.assert_close(bce_with_logits(z, y), expected)
    torch.testing.assert_close(bce_with_logits(z[:, 0], y), expected)
    y2 = y.clone()
    y2[0] = 255
    torch.testing.assert_close(bce_with_logits(z, y2), F.binary_cross_entropy_with_logits(z[1:, 0], y[1:].float()))
    # pos_weight > 1 makes missing a foreground pixel dearer
    assert bce_with_logits(z, y, pos_weight=3.0) > bce_with_logits(z, y)


def test_dice_loss_perfect_and_worst():
    target = torch.tensor([[[0, 1], [2, 2]]])
    perfect = F.one_hot(target, 3).permute(0, 3, 1, 2).float() * 50
    assert dice_loss(perfect, target, smooth=0.0).item() == pytest.approx(0.0, abs=1e-6)
    wrong = F.one_hot((target + 1) % 3, 3).permute(0, 3, 1, 2).float() * 50
    assert dice_loss(wrong, target, smooth=0.0).item() == pytest.approx(1.0, abs=1e-6)


def test_dice_loss_by_hand():
    # probabilities p = softmax; Dice of class k = 2 sum(p_k g_k) / (sum p_k + sum g_k)
    logits, target = _batch(ignore=False)
    p = logits.softmax(1)
    g = F.one_hot(target, 4).permute(0, 3, 1, 2).float()
    per_class = [(2 * (p[:, k] * g[:, k]).sum() + 1) / (p[:, k].sum() + g[:, k].sum() + 1) for k in range(4)]
    torch.testing.assert_close(dice_loss(logits, target), 1 - torch.stack(per_class).mean())


def test_dice_loss_binary_and_ignore():
    z = torch.tensor([[[[10.0, -10.0], [10.0, 0.0]]]])
    y = torch.tensor([[[1, 0], [1, 255]]])
    # foreground: p = (1, 0, 1), g = (1, 0, 1): perfect once the ignored pixel is dropped
    assert dice_loss(z, y, smooth=0.0).item() == pytest.approx(0.0, abs=1e-4)
    assert dice_loss(z[:, 0], y, smooth=0.0).item() == pytest.approx(0.0, abs=1e-4)


def test_focal_loss_laws():
    logits, target = _batch()
    torch.testing.assert_close(focal_loss(logits, target, gamma=0.0), cross_entropy(logits, target))
    assert focal_loss(logits, target, gamma=2.0) < cross_entropy(logits, target)
    # per pixel: -(1-p)^gamma log p
    z = torch.tensor([[[[2.0]], [[0.0]]]])  # p(class 0) = sigmoid(2)
    p = torch.sigmoid(torch.tensor(2.0))
    assert focal_loss(z, torch.tensor([[[0]]]), gamma=2).item() == pytest.approx(
        float(-((1 - p) ** 2) * torch.log(p)), rel=1e-5
    )


def test_focal_loss_binary_matches_bce_at_gamma_zero():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(2, 1, 3, 3, generator=g)
    y = torch.randint(0, 2, (2, 3, 3), generator=g)
    torch.testing.assert_close(focal_loss(z, y, gamma=0.0), bce_with_logits(z, y))
    assert focal_loss(z, y, gamma=0.0, alpha=0.5).item() == pytest.approx(0.5 * bce_with_logits(z, y).item(), rel=1e-5)


@settings(max_examples=25, deadline=None)
@given(p=st.floats(0.01, 0.99), gamma=st.floats(0.5, 4.0))
def test_focal_below_cross_entropy_per_pixel(p, gamma):
    z = torch.tensor([[[[math.log(p / (1 - p))]]]], dtype=torch.float64)
    y = torch.ones(1, 1, 1, dtype=torch.long)
    ce = bce_with_logits(z, y).item()
    assert ce == pytest.approx(-math.log(p), rel=1e-6)
    assert focal_loss(z, y, gamma=gamma).item() == pytest.approx((1 - p) ** gamma * ce, rel=1e-6)
    assert 0 <= dice_loss(z, y, smooth=0.0).item() <= 1


def test_losses_have_gradients():
    logits, target = _batch()
    logits.requires_grad_(True)
    for fn in (cross_entropy, dice_loss, focal_loss):
        (grad,) = torch.autograd.grad(fn(logits, target), logits)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0
        assert grad[0, :, 0, :3].abs().sum() == 0  # ignored pixels get no gradient


@pytest.mark.parametrize("fn", [cross_entropy, dice_loss, focal_loss])
def test_mismatched_shapes(fn):
    logits, target = _batch()
    with pytest.raises(ValueError, match="target"):
        fn(logits, target[:, :4])
    with pytest.raises(ValueError, match="target"):
        fn(logits, target[:1])
    with pytest.raises(TypeError):
        fn(logits, target.numpy())


def test_bad_arguments_and_message():
    logits, target = _batch()
    with pytest.raises(ValueError, match="logits"):
        bce_with_logits(logits, target)
    with pytest.raises(ValueError, match="logits"):
        cross_entropy(logits[:, :1], target)
    with pytest.raises(ValueError, match="weight"):
        cross_entropy(logits, target, weight=torch.ones(3))
    with pytest.raises(TypeError):
        cross_entropy(logits, target.float())
    with pytest.raises(ValueError, match="gamma"):
        focal_loss(logits, target, gamma=-1)
    with pytest.raises(ValueError, match="alpha"):
        focal_loss(logits, target, alpha=0.25)
    with pytest.raises(ValueError, match="smooth"):
        dice_loss(logits, target, smooth=-1)
    src.set_language("en")
    try:
        with pytest.raises(ValueError, match=r"expected shape \(2, 5, 6\)"):
            dice_loss(logits, target[:, :, :3])
    finally:
        src.set_language("vi")


def test_check_of_dice_exercise():
    from src import checks

    def dice(logits, target, smooth=1.0):
        p = logits.softmax(1)
        g = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
        inter = (p * g).sum((0, 2, 3))
        return 1 - ((2 * inter + smooth) / (p.sum((0, 2, 3)) + g.sum((0, 2, 3)) + smooth)).mean()

    def per_image(logits, target, smooth=1.0):  # sums per image instead of over the batch: a different loss
        p = logits.softmax(1)
        g = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
        inter = (p * g).sum((2, 3))
        return 1 - ((2 * inter + smooth) / (p.sum((2, 3)) + g.sum((2, 3)) + smooth)).mean()

    assert checks.check_dice_loss(dice).passed
    assert not checks.check_dice_loss(per_image).passed
    assert not checks.check_dice_loss(lambda logits, target, smooth=1.0: 1 - dice(logits, target, smooth)).passed


def test_ignore_index_is_defined_once():
    """IGNORE_INDEX is assigned in src/losses.py only; the other modules import it (no second 255 to drift)."""
    import inspect
    import pathlib
    import re

    from src import losses, metrics

    root = pathlib.Path(losses.__file__).parent
    assigned = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if re.search(r"^IGNORE_INDEX\s*[:=]", p.read_text(), flags=re.MULTILINE)
    ]
    assert assigned == ["losses.py"]
    for fn in (metrics.confusion_matrix, metrics.mean_iou, metrics.boundary_f1, metrics.segmentation_report):
        assert inspect.signature(fn).parameters["ignore_index"].default == losses.IGNORE_INDEX
