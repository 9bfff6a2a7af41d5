"""Tests for src.backbones: strides, dilation (BasicBlock included), DenseNet OS 16/8, multi-grid, errors."""

import pytest
import torch
import torch.nn as nn
import torchvision

import src
from src.backbones import BACKBONES, build_backbone


def _strides(model: nn.Module, size: int = 64) -> dict[str, int]:
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, size, size))
    assert set(out) == {"layer1", "layer2", "layer3", "layer4"}
    for name, feat in out.items():
        assert feat.shape[1] == model.channels[name]
    return {name: size // feat.shape[-1] for name, feat in out.items()}


EXPECTED = {32: [4, 8, 16, 32], 16: [4, 8, 16, 16], 8: [4, 8, 8, 8]}


@pytest.mark.parametrize("name", ["tiny", "resnet18", "resnet50", "densenet121"])
@pytest.mark.parametrize("output_stride", [32, 16, 8])
def test_strides_and_channels(name, output_stride):
    model = build_backbone(name, output_stride=output_stride)
    assert model.output_stride == output_stride
    assert list(_strides(model).values()) == EXPECTED[output_stride]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet34", "resnet101", "resnet152"])
def test_other_resnets(name):
    assert list(_strides(build_backbone(name, output_stride=8), size=32).values()) == [4, 8, 8, 8]


def test_basicblock_is_dilated():
    # torchvision raises "Dilation > 1 not supported in BasicBlock"; ours dilates it
    with pytest.raises(NotImplementedError):
        torchvision.models.resnet18(weights=None, replace_stride_with_dilation=[False, True, True])
    model = build_backbone("resnet18", output_stride=8)
    assert all(b.conv1.dilation == (2, 2) and b.conv2.dilation == (2, 2) for b in model.layer3)
    assert all(b.conv1.dilation == (4, 4) and b.conv2.padding == (4, 4) for b in model.layer4)
    assert model.layer4[0].conv1.stride == (1, 1) and model.layer4[0].downsample[0].stride == (1, 1)


def test_dilation_keeps_receptive_field_growing():
    # a dilated stage must see further than the same stage without dilation at the same resolution
    model = build_backbone("resnet18", output_stride=8).eval()
    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    model(x)["layer4"][0, :, 4, 4].sum().backward()
    reach = (x.grad.abs().sum((0, 1)) > 0).nonzero()
    assert reach[:, 0].max() - reach[:, 0].min() >= 60  # covers (almost) the whole 64-px image


def test_resnet_state_dict_matches_torchvision():
    ours = build_backbone("resnet50", output_stride=16)
    reference = torchvision.models.resnet50(weights=None).state_dict()
    reference = {k: v for k, v in reference.items() if not k.startswith("fc.")}
    ours.load_state_dict(reference, strict=True)  # pretrained torchvision weights would load the same way


def test_densenet_state_dict_and_no_pooling():
    ours = build_backbone("densenet121", output_stride=8)
    reference = torchvision.models.densenet121(weights=None).features.state_dict()
    ours.features.load_state_dict(reference, strict=True)
    assert isinstance(ours.features.transition2.pool, nn.Identity)
    assert isinstance(ours.features.transition3.pool, nn.Identity)
    assert ours.features.denseblock3.denselayer1.conv2.dilation == (2, 2)
    assert ours.features.denseblock4.denselayer16.conv2.dilation == (4, 4)


def test_densenet_os32_equals_torchvision():
    torch.manual_seed(0)
    ours = build_backbone("densenet121", output_stride=32).eval()
    ref = torchvision.models.densenet121(weights=None).eval()
    ref.features.load_state_dict(ours.features.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)["layer4"], torch.relu(ref.features(x)))


def test_multi_grid():
    model = build_backbone("resnet50", output_stride=16, multi_grid=(1, 2, 4))
    assert [b.conv2.dilation[0] for b in model.layer4] == [2, 4, 8]
    model = build_backbone("resnet18", output_stride=8, multi_grid=(1, 2))
    assert [b.conv1.dilation[0] for b in model.layer4] == [4, 8]
    tiny = build_backbone("tiny", output_stride=16, multi_grid=(1, 2))
    assert (tiny.layer4.conv1.dilation[0], tiny.layer4.conv2.dilation[0]) == (2, 4)
    dense = build_backbone("densenet121", output_stride=16, multi_grid=(1, 2, 4))
    assert [layer.conv2.dilation[0] for layer in list(dense.features.denseblock4.values())[:4]] == [2, 4, 8, 2]
    assert list(_strides(tiny).values()) == [4, 8, 16, 16]


def test_tiny_widths_and_gradients():
    model = build_backbone("tiny", output_stride=8, widths=(8, 8, 16, 16))
    assert model.channels["layer4"] == 16
    out = model(torch.randn(2, 3, 32, 32))["layer4"]
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "resnet99"},
        {"name": 18},
        {"name": "tiny", "output_stride": 4},
        {"name": "tiny", "output_stride": True},
        {"name": "resnet18", "multi_grid": (1, 0)},
        {"name": "resnet18", "multi_grid": ()},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        build_backbone(**kwargs)


def test_bad_kwargs_and_message_language():
    with pytest.raises(TypeError):
        build_backbone("resnet18", widths=(8, 8, 8, 8))
    with pytest.raises(TypeError, match="multi_grid"):  # a string is the wrong type (src._validate's rule)
        build_backbone("resnet18", multi_grid="124")
    src.set_language("en")
    try:
        with pytest.raises(ValueError, match=r"output_stride.*expected 8, 16 or 32.*got 12"):
            build_backbone("tiny", output_stride=12)
    finally:
        src.set_language("vi")
    with pytest.raises(ValueError, match="nhận được 12"):
        build_backbone("tiny", output_stride=12)
    assert "densenet121" in BACKBONES
