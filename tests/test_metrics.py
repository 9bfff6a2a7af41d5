import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from src import metrics


def test_worked_example():
    target = torch.tensor([[0, 0, 1], [1, 2, 2]])
    pred = torch.tensor([[0, 1, 1], [1, 2, 0]])
    cm = metrics.confusion_matrix(pred, target, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert metrics.pixel_accuracy(cm) == pytest.approx(4 / 6)
    iou = metrics.iou_from_confusion(cm)
    assert iou.tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert metrics.mean_iou(pred, target, 3) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)


def test_ignore_index_and_absent_classes():
    target = torch.tensor([0, 0, 255, 1])
    pred = torch.tensor([0, 0, 2, 1])
    iou = metrics.per_class_iou(pred, target, 3)
    assert iou[0] == 1 and iou[1] == 1 and torch.isnan(iou[2])
    assert metrics.mean_iou(pred, target, 3) == 1.0


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 40), st.integers(0, 10_000))
def test_confusion_matrix_counts_every_pixel(classes, n, seed):
    g = np.random.default_rng(seed)
    pred = torch.from_numpy(g.integers(0, classes, n))
    target = torch.from_numpy(g.integers(0, classes, n))
    cm = metrics.confusion_matrix(pred, target, classes)
    assert int(cm.sum()) == n
    assert torch.equal(cm.sum(1), torch.bincount(target, minlength=classes))
    iou = metrics.iou_from_confusion(cm)
    assert bool(((iou >= 0) & (iou <= 1) | torch.isnan(iou)).all())


def test_boundary_f1():
    a = torch.zeros(1, 20, 20, dtype=torch.long)
    a[:, :, 10:] = 1
    assert metrics.boundary_f1(a, a) == 1.0
    shifted = torch.zeros_like(a)
    shifted[:, :, 11:] = 1
    assert metrics.boundary_f1(shifted, a, tolerance=2) == 1.0
    assert metrics.boundary_f1(shifted, a, tolerance=0) < 1.0
    far = torch.zeros_like(a)
    far[:, :, 17:] = 1
    assert metrics.boundary_f1(far, a, tolerance=2) == 0.0
    assert metrics.boundary_f1(torch.zeros_like(a), torch.zeros_like(a)) == 1.0


def test_report():
    t = torch.randint(0, 3, (2, 8, 8))
    r = metrics.segmentation_report(t, t, 3)
    assert r == {"pixel_accuracy": 1.0, "miou": 1.0, "boundary_f1": 1.0}


def test_bad_input():
    with pytest.raises(ValueError, match="pred"):
        metrics.confusion_matrix(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="pred"):
        metrics.confusion_matrix(torch.zeros(3), torch.zeros(3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="num_classes"):
        metrics.confusion_matrix(torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="target"):
        metrics.confusion_matrix(torch.zeros(3, dtype=torch.long), torch.full((3,), 7), 2)
    with pytest.raises(TypeError, match="cm"):
        metrics.iou_from_confusion(torch.zeros(2, 3))
