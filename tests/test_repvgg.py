"""RepVGG and its structural re-parameterisation (src.repvgg, lesson 08)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from src import repvgg


def _randomise_bn(model: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 2 - 1)
            m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) * 2 - 1)


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@settings(max_examples=25, deadline=None)
@given(
    cin=st.integers(1, 12),
    cout=st.integers(1, 12),
    stride=st.sampled_from([1, 2]),
    dilation=st.sampled_from([1, 2]),
    same=st.booleans(),
    h=st.integers(5, 13),
    w=st.integers(5, 13),
)
def test_reparameterisation_is_exact(cin, cout, stride, dilation, same, h, w):
    if same:
        cout = cin  # the identity branch exists only when shapes allow it
    torch.manual_seed(cin * 100 + cout)
    block = repvgg.RepVGGBlock(cin, cout, stride, dilation=dilation)
    assert (block.identity is not None) == (cin == cout and stride == 1)
    _randomise_bn(block)
    block.eval()
    x = torch.randn(2, cin, h, w)
    with torch.no_grad():
        before = block(x)
        block.reparameterize()
        after = block(x)
    assert block.reparam is not None and not hasattr(block, "dense")
    assert (before - after).abs().max().item() < 1e-5


def test_reparameterised_block_is_one_conv_and_differs_in_train_mode():
    block = repvgg.RepVGGBlock(4, 4)
    _randomise_bn(block)
    x = torch.randn(3, 4, 8, 8)
    block.train()
    train_out = block(x)
    block.eval()
    eval_out = block(x)
    # BN in train mode uses batch statistics: the merge is only exact in eval mode
    assert (train_out - eval_out).abs().max() > 1e-3
    repvgg.deploy(block)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 1 and convs[0].kernel_size == (3, 3) and convs[0].bias is not None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in block.modules())


def test_fuse_conv_bn_formula_against_sequential():
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=False)
    bn = nn.BatchNorm2d(5)
    _randomise_bn(bn, seed=3)
    bn.eval()
    kernel, bias = repvgg.fuse_conv_bn(conv.weight, bn)
    x = torch.randn(1, 3, 6, 7)
    with torch.no_grad():
        expected = bn(conv(x))
        got = nn.functional.conv2d(x, kernel, bias, padding=1)
    assert torch.allclose(expected, got, atol=1e-5)


def test_pad_1x1_puts_the_kernel_at_the_centre():
    k = torch.randn(2, 3, 1, 1)
    p = repvgg.pad_1x1_to_3x3(k)
    assert p.shape == (2, 3, 3, 3)
    assert torch.equal(p[:, :, 1, 1], k[:, :, 0, 0])
    assert p.abs().sum() == k.abs().sum()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("builder", "name", "deployed"),
    [(repvgg.repvgg_a0, "repvgg_a0", 8.30e6), (repvgg.repvgg_b0, "repvgg_b0", 14.33e6)],
)
def test_parameter_counts_match_the_paper_and_timm(builder, name, deployed):
    timm = pytest.importorskip("timm")
    ours = builder()
    reference = timm.create_model(name, pretrained=False)
    assert _params(ours) == _params(reference)  # training-time form, an independent implementation
    repvgg.deploy(ours)
    # the paper's Table 4 gives two decimals in millions (8.30M, 14.33M)
    assert abs(_params(ours) - deployed) < 0.01e6


def test_whole_network_deploys_exactly_with_se_on_non_square_input():
    torch.manual_seed(0)
    model = repvgg.repvgg_a0(num_classes=10, se=True)
    _randomise_bn(model)
    model.eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        before = model(x)
        repvgg.deploy(model)
        after = model(x)
    assert (before - after).abs().max() <= 1e-5 * before.abs().max()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_se_pools_globally_on_non_square_maps():
    block = repvgg.RepVGGBlock(32, 32, se=True).eval()
    x = torch.randn(2, 32, 4, 12)
    squeezed = block.attention.squeeze(x)
    assert squeezed.shape == (2, 32, 1, 1)
    assert torch.allclose(squeezed.flatten(1), x.mean((2, 3)), atol=1e-6)
    # the authors' avg_pool2d(kernel_size=width) is no global pooling on a 4 x 12 map: it fails outright
    with pytest.raises(RuntimeError):
        nn.functional.avg_pool2d(x, kernel_size=x.size(3))


@pytest.mark.parametrize(
    ("output_stride", "expected", "dilations"), [(32, (2, 3), {1}), (16, (4, 6), {1}), (8, (8, 12), {1, 2})]
)
def test_output_stride_keeps_resolution_and_dilates(output_stride, expected, dilations):
    # torchvision's rule: the first block of a stage that keeps its resolution keeps the previous dilation,
    # the later blocks double it; RepVGG-A0's last stage has a single block, so OS 16 needs no dilation
    torch.manual_seed(0)
    model = repvgg.repvgg_a0(output_stride=output_stride)
    _randomise_bn(model)
    model.eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        feats = model.features(x)
        before = feats[-1]
        assert tuple(before.shape[-2:]) == expected
        assert [tuple(f.shape[-2:]) for f in feats[:3]] == [(32, 48), (16, 24), (8, 12)]
        got = {m.dilation[0] for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)}
        assert got == dilations
        repvgg.deploy(model)
        assert (model.features(x)[-1] - before).abs().max() <= 1e-5 * before.abs().max()  # 22 layers of float32


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"in_channels": 0, "out_channels": 4}, ValueError),
        ({"in_channels": 4.0, "out_channels": 4}, TypeError),
        ({"in_channels": 4, "out_channels": 4, "stride": 3}, ValueError),
    ],
)
def test_bad_block_arguments(kwargs, error):
    with pytest.raises(error):
        repvgg.RepVGGBlock(**kwargs)


def test_bad_output_stride_and_deploy_argument():
    with pytest.raises(ValueError, match="output_stride"):
        repvgg.repvgg_a0(output_stride=4)
    with pytest.raises(TypeError, match="model"):
        repvgg.deploy("not a model")


def test_backbone_returns_the_four_stages_at_the_output_stride():
    backbone = repvgg.RepVGGBackbone("repvgg_a0", output_stride=8).eval()
    out = backbone(torch.randn(1, 3, 64, 64))
    assert list(out) == ["layer1", "layer2", "layer3", "layer4"]
    assert (
        {k: v.shape[1] for k, v in out.items()}
        == backbone.channels
        == {
            "layer1": 48,
            "layer2": 96,
            "layer3": 192,
            "layer4": 1280,
        }
    )
    assert [v.shape[-1] for v in out.values()] == [16, 8, 8, 8]
    with pytest.raises(ValueError, match="name"):
        repvgg.RepVGGBackbone("repvgg_z9")


def test_add_se_fills_the_slots_like_the_se_variant():
    from src.se import SEBlock, add_se

    plain, variant = repvgg.repvgg_a0(num_classes=10), repvgg.repvgg_a0(num_classes=10, se=True)
    add_se(plain, "backbone")
    assert _params(plain) == _params(variant)
    gates = [m for m in plain.modules() if isinstance(m, SEBlock)]
    assert len(gates) == sum(isinstance(m, repvgg.RepVGGBlock) for m in plain.modules()) == 22
