"""Tests for src.pspnet: pyramid pooling levels and shapes, PSPNet forward, batch size 1, errors."""

import pytest
import torch
import torch.nn.functional as F

from src.pspnet import PSPNet, PyramidPooling


def test_pyramid_pooling_shapes():
    ppm = PyramidPooling(32)
    assert ppm.out_channels == 32 + 4 * 8
    x = torch.randn(2, 32, 12, 12)
    out = ppm(x)
    assert out.shape == (2, 64, 12, 12)
    torch.testing.assert_close(out[:, :32], x)  # the input is concatenated unchanged


def test_each_level_is_piecewise_from_its_grid():
    ppm = PyramidPooling(4, bins=(1, 2)).eval()
    x = torch.randn(1, 4, 8, 8)
    out = ppm(x)
    level1 = out[:, 4:6]
    torch.testing.assert_close(level1, level1[:, :, :1, :1].expand_as(level1))  # bin 1: one value per channel
    # bin 2: the 1x1 conv of the 2x2 average, upsampled bilinearly
    stage = ppm.stages[1]
    expected = F.interpolate(stage[3](stage[2](stage[1](F.adaptive_avg_pool2d(x, 2)))), size=(8, 8), mode="bilinear")
    torch.testing.assert_close(out[:, 6:8], expected)


def test_pspnet_forward_backward_batch_one():
    model = PSPNet(4, "tiny", channels=16).train()
    assert model.output_stride == 8
    out = model(torch.randn(1, 3, 32, 32))
    assert out.shape == (1, 4, 32, 32)
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_pspnet_binary_and_se():
    model = PSPNet(1, "tiny", output_stride=16, channels=16)  # num_classes=1: one logit (sigmoid)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 1, 32, 32)
    se = PSPNet(3, "tiny", channels=16, se="decoder")
    assert se(torch.randn(2, 3, 32, 32)).shape == (2, 3, 32, 32)


@pytest.mark.slow
def test_pspnet_resnet50():
    model = PSPNet(5, "resnet50").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 48, 48)).shape == (1, 5, 48, 48)


@pytest.mark.parametrize(
    "kwargs", [{"in_channels": 0}, {"in_channels": 8, "bins": ()}, {"in_channels": 8, "bins": (1, 0)}]
)
def test_bad_pyramid_arguments(kwargs):
    with pytest.raises(ValueError):
        PyramidPooling(**kwargs)


def test_bad_pspnet_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        PSPNet(0, "tiny")
    with pytest.raises(TypeError, match="num_classes"):
        PSPNet("tiny", 3)  # the old argument order
    with pytest.raises(TypeError, match="binary"):
        PSPNet(2, "tiny", binary=True)
    with pytest.raises(ValueError, match="dropout"):
        PSPNet(3, "tiny", dropout=2.0)
    with pytest.raises(ValueError, match="x"):
        PyramidPooling(8)(torch.randn(1, 4, 5, 5))
