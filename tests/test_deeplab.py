"""Tests for src.deeplab.DeepLabV3: backbones, output strides, rates, binary head, batch size 1, SE flag, errors."""

import pytest
import torch

from src.aspp import ASPP
from src.backbones import build_backbone
from src.deeplab import DeepLabV3
from src.models import count_parameters


def test_tiny_multiclass_forward_backward():
    model = DeepLabV3(4, "tiny", output_stride=8, atrous_rates=(1, 2, 3), channels=16)
    assert model.atrous_rates == (1, 2, 3) and model.output_stride == 8
    out = model(torch.randn(2, 3, 40, 48))
    assert out.shape == (2, 4, 40, 48)
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_default_rates_follow_output_stride():
    assert DeepLabV3(3, "tiny", channels=8).atrous_rates == (6, 12, 18)
    assert DeepLabV3(3, "tiny", output_stride=8, channels=8).atrous_rates == (12, 24, 36)
    with pytest.raises(ValueError, match="atrous_rates"):
        DeepLabV3(3, "tiny", output_stride=32, channels=8)
    assert DeepLabV3(3, "tiny", output_stride=32, atrous_rates=(1, 2), channels=8).output_stride == 32


@pytest.mark.filterwarnings(
    "ignore::src.aspp.DegenerateASPPWarning"
)  # a shape test at a size where the default rates degenerate (test_aspp tests the warning)
def test_binary_head_and_batch_one_in_train_mode():
    model = DeepLabV3(1, "tiny", output_stride=16, channels=8).train()  # num_classes=1: one logit (sigmoid)
    assert model.binary and not DeepLabV3(2, "tiny", channels=8).binary
    out = model(torch.randn(1, 3, 32, 32))  # torchvision's DeepLabV3 raises at batch 1 in train mode
    assert out.shape == (1, 1, 32, 32)
    out.sum().backward()


def test_context_variants_differ_only_in_the_context_module():
    full = DeepLabV3(4, "tiny", output_stride=16, atrous_rates=(1, 2, 3), channels=16)
    no_pool = DeepLabV3(4, "tiny", output_stride=16, atrous_rates=(1, 2, 3), channels=16, image_pooling=False)
    none = DeepLabV3(4, "tiny", output_stride=16, channels=16, context="none")
    assert isinstance(full.classifier[0], ASPP) and not isinstance(none.classifier[0], ASPP)
    assert count_parameters(none) < count_parameters(no_pool) < count_parameters(full)
    assert none(torch.randn(2, 3, 32, 32)).shape == (2, 4, 32, 32)


def test_backbone_module_and_multi_grid():
    backbone = build_backbone("tiny", output_stride=8)
    model = DeepLabV3(3, backbone, channels=8)
    assert model.backbone is backbone and model.atrous_rates == (12, 24, 36)
    with pytest.raises(ValueError, match="output_stride"):
        DeepLabV3(3, build_backbone("tiny", output_stride=8), output_stride=16)
    with pytest.raises(ValueError, match="multi_grid"):
        DeepLabV3(3, build_backbone("tiny", output_stride=8), multi_grid=(1, 2))
    model = DeepLabV3(3, "resnet18", output_stride=16, multi_grid=(1, 2), channels=16)
    assert [b.conv1.dilation[0] for b in model.backbone.layer4] == [2, 4]


@pytest.mark.filterwarnings(
    "ignore::src.aspp.DegenerateASPPWarning"
)  # a shape test at a size where the default rates degenerate (test_aspp tests the warning)
@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "resnet50", "densenet121"])
@pytest.mark.parametrize("output_stride", [16, 8])
def test_real_backbones(name, output_stride):
    model = DeepLabV3(5, name, output_stride=output_stride).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 48, 48)).shape == (1, 5, 48, 48)
    assert model.classifier[0].project[0].in_channels == 5 * 256


def test_parameter_count_matches_torchvision_resnet50():
    import torchvision

    ref = torchvision.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None, aux_loss=False)
    ours = DeepLabV3(21, "resnet50", output_stride=8)
    assert count_parameters(ours) == count_parameters(ref)
    ours.classifier.load_state_dict(ref.classifier.state_dict(), strict=True)


@pytest.mark.filterwarnings(
    "ignore::src.aspp.DegenerateASPPWarning"
)  # a shape test at a size where the default rates degenerate (test_aspp tests the warning)
def test_se_flag():
    plain = DeepLabV3(3, "tiny", output_stride=16, channels=16)
    for where in (True, "backbone", "decoder", "both"):
        model = DeepLabV3(3, "tiny", output_stride=16, channels=16, se=where)
        assert count_parameters(model) > count_parameters(plain)
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"backbone": "tiny", "num_classes": 0},
        {"backbone": "vgg16", "num_classes": 3},
        {"backbone": "tiny", "num_classes": 3, "context": "psp"},
        {"backbone": "tiny", "num_classes": 3, "se": "head"},
        {"backbone": "tiny", "num_classes": 3, "se": 1},
        {"backbone": "tiny", "num_classes": 3, "channels": 0},
        {"backbone": "tiny", "num_classes": 3, "dropout": 1.5},
        {"backbone": "tiny", "num_classes": 3, "atrous_rates": (6, 0)},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        DeepLabV3(**kwargs)


def test_bad_types():
    with pytest.raises(TypeError, match="backbone"):
        DeepLabV3(3, torch.nn.Conv2d(3, 3, 1))
    with pytest.raises(ValueError, match="x"):
        DeepLabV3(3, "tiny", channels=8)(torch.randn(3, 32, 32))
    with pytest.raises(TypeError, match="x"):
        DeepLabV3(3, "tiny", channels=8)([[0.0]])
    # the old argument order (backbone first) is a wrong type for num_classes, and the message shows the signature
    with pytest.raises(TypeError, match=r"num_classes.*signature: DeepLabV3\(num_classes, backbone="):
        DeepLabV3("tiny", 3)
    with pytest.raises(TypeError, match="binary"):  # binary= is gone: num_classes=1 says it
        DeepLabV3(2, "tiny", binary=True)


def test_context_ablation_models_share_the_backbone_init():
    from src import deeplab
    from src.ablations import ABLATION, context_ablation
    from src.pspnet import PSPNet

    assert deeplab.context_ablation is context_ablation and deeplab.ABLATION is ABLATION  # old import still works
    state = torch.random.get_rng_state()
    models = context_ablation(num_classes=4, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is left alone
    assert tuple(models) == ABLATION
    assert isinstance(models["pyramid_pooling"], PSPNet)
    first = {k: v.clone() for k, v in models["none"].backbone.state_dict().items()}
    for model in models.values():
        for key, value in model.backbone.state_dict().items():
            assert torch.equal(value, first[key])
    for model in models.values():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 4, 64, 64)
    assert models["aspp"].classifier[0].atrous_rates == (2, 4, 6)
    assert not models["aspp_no_pooling"].classifier[0].image_pooling


def test_selfcheck_core():
    from src.deeplab import selfcheck_core

    line = selfcheck_core(torch.device("cpu"))
    assert "OK on cpu" in line and "\n" not in line
