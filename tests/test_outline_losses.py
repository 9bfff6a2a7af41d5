"""The data behind lessons 01 and 03's recorded claims (``outline``, ``binary_small``) and the loss probe."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from src import data
from src.loss_probe import LOSSES, LossProbe, foreground_iou


def test_outline_discs_are_labelled_by_their_ring_colour_only():
    images, masks = data.generate("outline", "val", 96, 40)
    rgb = images.astype(int)
    colour = rgb[..., 0] - rgb[..., 2]  # red minus blue; 0 on grey pixels
    grey = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
    seen = set()
    for image_colour, is_grey, mask in zip(colour, grey, masks):
        labels, count = ndimage.label(mask > 0)
        assert 1 <= count <= 2
        for disc in range(1, count + 1):
            region = labels == disc
            classes = set(np.unique(mask[region]))
            assert len(classes) == 1  # one class per disc ...
            (cls,) = classes
            ring = region & ~is_grey
            # ... written on its coloured ring (red -> 1, blue -> 2), the only colour in the image
            assert ring.sum() > 0 and (np.sign(image_colour[ring]) == (1 if cls == 1 else -1)).all()
            seen.add(int(cls))
        assert (is_grey | (mask > 0)).all()  # no colour outside the discs
    assert seen == {1, 2}
    # the inside of a disc is grey and looks alike under both classes
    inside = grey & (masks > 0)
    means = [images[..., 0][inside & (masks == k)].mean() for k in (1, 2)]
    assert abs(means[0] - means[1]) < 12


def test_outline_has_pixels_that_an_rf_of_39_cannot_link_to_their_ring():
    """Lesson 01's premise: a share of disc pixels lie farther than RF / 2 (19 px) from the disc's edge."""
    _, masks = data.generate("outline", "val", 96, 40)
    far = [(ndimage.distance_transform_edt(m > 0) > 19).sum() / (m > 0).sum() for m in masks]
    assert 0.1 < float(np.mean(far)) < 0.6


def test_binary_small_has_a_small_foreground():
    _, masks = data.generate("binary_small", "val", 64, 40)
    share = (masks == 1).mean()
    assert 0.01 < share < 0.1 and set(np.unique(masks)) == {0, 1}
    assert all((m == 1).any() for m in masks)  # every image has some grass
    assert data.TextureMosaics("binary_small", "val", 64, 4, cache=False).num_classes == 2


def test_loss_probe_one_logit_for_two_classes_and_bad_arguments():
    x = torch.randn(2, 3, 64, 64)
    for loss in LOSSES:
        probe = LossProbe(2, loss).eval()
        assert probe(x).shape == (2, 1, 64, 64) and probe.loss_fn is LOSSES[loss]
        target = torch.zeros(2, 64, 64, dtype=torch.long)
        assert torch.isfinite(probe.loss_fn(probe(x), target))
    assert LossProbe(4, "dice")(x).shape == (2, 4, 64, 64)
    with pytest.raises(ValueError, match="loss"):
        LossProbe(2, "hinge")
    with pytest.raises(ValueError, match="num_classes"):
        LossProbe(1, "bce")
    with pytest.raises(ValueError, match="num_classes"):
        LossProbe(True, "bce")


class _Constant(torch.nn.Module):
    """Predicts the given mask (one logit: +5 on foreground, -5 elsewhere)."""

    def __init__(self, masks):
        super().__init__()
        self.masks, self.weight, self.calls = masks, torch.nn.Parameter(torch.zeros(1)), 0

    def forward(self, x):
        out = self.masks[self.calls : self.calls + len(x)].float()[:, None] * 10 - 5
        self.calls += len(x)
        return out


def test_foreground_iou_counts_over_the_whole_loader():
    masks = torch.zeros(4, 8, 8, dtype=torch.long)
    masks[:, 2:4, 2:4] = 1
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(4, 3, 8, 8), masks), batch_size=2)
    assert foreground_iou(_Constant(masks), loader) == 1.0
    assert foreground_iou(_Constant(torch.zeros_like(masks)), loader) == 0.0
    half = masks.clone()
    half[:, 2:4, 3] = 0  # predicts half of every foreground square
    assert foreground_iou(_Constant(half), loader) == pytest.approx(0.5)
    with pytest.raises(TypeError, match="model"):
        foreground_iou("model", loader)
