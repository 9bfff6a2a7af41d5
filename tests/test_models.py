"""Tests of src.models: the FCN baseline (lesson 00) and the re-exported tiny backbone."""

import pytest
import torch

from src import backbones, models


def test_tiny_backbone_lives_in_backbones_and_is_re_exported():
    assert models.TinyBackbone is backbones.TinyBackbone and models.BasicBlock is backbones.BasicBlock
    assert models.BN_MOMENTUM == backbones.BN_MOMENTUM


def test_fcn_head_width_and_output_stride():
    torch.manual_seed(0)
    fcn = models.FCN(5, output_stride=8)
    assert fcn.output_stride == 8 and fcn.backbone.output_stride == 8
    assert fcn.classifier[0].out_channels == 64  # default channels
    assert models.FCN(5, channels=16).classifier[0].out_channels == 16
    assert fcn(torch.randn(2, 3, 40, 36)).shape == (2, 5, 40, 36)
    assert models.FCN(1)(torch.randn(2, 3, 32, 32)).shape == (2, 1, 32, 32)  # binary


def test_fcn_with_a_backbone_module_checks_its_output_stride():
    body = models.TinyBackbone(output_stride=16)
    assert models.FCN(3, body).backbone is body
    with pytest.raises(ValueError, match="output_stride"):
        models.FCN(3, body, output_stride=8)


def test_count_parameters_trainable_only():
    fcn = models.FCN(3)
    total = models.count_parameters(fcn)
    for p in fcn.backbone.parameters():
        p.requires_grad_(False)
    assert models.count_parameters(fcn, trainable_only=True) == total - models.count_parameters(fcn.backbone)
