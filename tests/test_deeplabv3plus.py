"""DeepLabV3+ (src.deeplab.DeepLabV3Plus, lesson 08) and the RepVGG backbones of the model family."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torchvision
from torchvision.models.segmentation.deeplabv3 import ASPP as TorchvisionASPP

from src.deeplab import DeepLabV3, DeepLabV3Plus
from src.se import SEBlock, scSE
from src.segmodel import SegmentationModel


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_equals_an_independent_build_of_the_same_configuration():
    # Chen et al. 2018 (arXiv 1802.02611): ResNet-50 at OS 16, ASPP (6, 12, 18) of width 256, low-level
    # features reduced to 48 channels, two 3x3 convs of 256, a 1x1 classifier. The reference is assembled from
    # torchvision's ResNet-50 and ASPP plus the decoder's layers counted by hand.
    ours = DeepLabV3Plus(21, "resnet50")
    resnet = torchvision.models.resnet50(weights=None)
    backbone = _params(resnet) - _params(resnet.fc)
    aspp = _params(TorchvisionASPP(2048, [6, 12, 18], 256))
    bn = 2  # weight and bias per channel
    decoder = (256 * 48 + bn * 48) + (304 * 256 * 9 + bn * 256) + (256 * 256 * 9 + bn * 256) + (256 * 21 + 21)
    assert _params(ours) == backbone + aspp + decoder


def test_shapes_at_the_input_size_and_logits_from_the_stride_4_features():
    model = DeepLabV3Plus(5, "tiny", atrous_rates=(1, 2, 3), channels=32).eval()
    assert isinstance(model, SegmentationModel) and model.output_stride == 16
    x = torch.randn(2, 3, 96, 128)
    seen = {}

    def remember(_module: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
        seen["shape"] = out.shape

    model.classifier.classifier.register_forward_hook(remember)
    assert model(x).shape == (2, 5, 96, 128)
    assert seen["shape"][-2:] == (24, 32)  # output stride 4: the low-level branch sets the resolution


def test_the_decoder_changes_the_output_not_only_deeplabv3():
    torch.manual_seed(0)
    model = DeepLabV3Plus(3, "tiny", atrous_rates=(1, 2, 3), channels=16).eval()
    x = torch.randn(1, 3, 64, 64)
    base = model(x)
    with torch.no_grad():
        model.classifier.reduce[0].weight.zero_()  # cut the skip: the prediction must change
    assert not torch.allclose(base, model(x))


def test_binary_se_and_repvgg_backbone():
    model = DeepLabV3Plus(1, "repvgg_a0", atrous_rates=(1, 2, 3), channels=32, se=True).eval()
    assert model.binary
    assert any(isinstance(m, scSE) for m in model.classifier.modules())
    assert any(isinstance(m, SEBlock) for m in model.backbone.modules())
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1, 64, 64)


@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_repvgg_backbone_in_deeplabv3(output_stride):
    model = DeepLabV3(4, "repvgg_a0", output_stride=output_stride, atrous_rates=(1, 2), channels=16).eval()
    assert model.backbone.output_stride == output_stride
    # 128 px: the OS-32 map is 4 x 4, so rates (1, 2) are not degenerate
    assert model(torch.randn(1, 3, 128, 128)).shape == (1, 4, 128, 128)


def test_bad_arguments():
    with pytest.raises(ValueError, match="atrous_rates"):
        DeepLabV3Plus(3, "tiny", output_stride=32)
    with pytest.raises(TypeError, match="low_level_channels"):
        DeepLabV3Plus(3, "tiny", low_level_channels=4.5)
    with pytest.raises(ValueError, match="multi_grid"):
        DeepLabV3(3, "repvgg_a0", multi_grid=(1, 2, 4))
