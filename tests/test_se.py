"""Tests of src.se (lesson 06): SE block, SE-ResNet, sSE / scSE, add_se, gates, checks."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st

import src
from src import se
from src.models import FCN, TinyBackbone, count_parameters


@pytest.fixture(autouse=True)
def _english():
    src.set_language("en")
    yield
    src.set_language("vi")


def _copy_to_torchvision(block: se.SEBlock) -> torchvision.ops.SqueezeExcitation:
    ref = torchvision.ops.SqueezeExcitation(block.input_channels, block.internal_neurons)
    ref.fc1.load_state_dict(block.down.state_dict())
    ref.fc2.load_state_dict(block.up.state_dict())
    return ref


@settings(max_examples=15, deadline=None)
@given(
    c=st.integers(1, 24),
    r=st.integers(1, 8),
    h=st.integers(1, 13),
    w=st.integers(1, 13),
    n=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_seblock_equals_torchvision_on_any_shape(c, r, h, w, n, seed):
    torch.manual_seed(seed)
    block = se.SEBlock(c, max(1, c // r))
    ref = _copy_to_torchvision(block)
    x = torch.randn(n, c, h, w)
    torch.testing.assert_close(block(x), ref(x), rtol=1e-5, atol=1e-6)


def test_seblock_non_square_pools_the_whole_map():
    # the top 32 x 32 square is zero, the rest is one: a square-window squeeze would see only zeros
    block = se.SEBlock(4, 2)
    x = torch.zeros(1, 4, 48, 32)
    x[:, :, 32:] = 1.0
    assert torch.allclose(block.squeeze(x).flatten(), torch.full((4,), 16 / 48))
    assert torch.allclose(se.buggy_squeeze(x).flatten(), torch.zeros(4))  # the post's bug, reproduced
    torch.testing.assert_close(block(x), _copy_to_torchvision(block)(x))


def test_buggy_squeeze_is_right_only_for_square_maps():
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(se.buggy_squeeze(x), x.mean((2, 3), keepdim=True))
    assert se.buggy_squeeze(torch.randn(2, 3, 64, 16)).shape == (2, 3, 4, 1)  # not one value per channel
    with pytest.raises(RuntimeError):
        se.buggy_squeeze(torch.randn(1, 3, 8, 16))  # H < W: the window does not fit


def test_se_forward_matches_the_module():
    torch.manual_seed(1)
    block = se.SEBlock(12, 3)
    x = torch.randn(2, 12, 7, 11)
    got = se.se_forward(x, block.down.weight.flatten(1), block.down.bias, block.up.weight.flatten(1), block.up.bias)
    torch.testing.assert_close(got, block(x))


def test_gate_is_in_unit_interval_and_scales_channels():
    torch.manual_seed(2)
    block = se.SEBlock(8, 2)
    x = torch.randn(3, 8, 5, 9)
    g = block.gate(x)
    assert g.shape == (3, 8, 1, 1) and bool(((g > 0) & (g < 1)).all())
    torch.testing.assert_close(block(x), x * g)


@pytest.mark.parametrize("bad", [0, -1, 9])
def test_seblock_rejects_bad_internal_neurons(bad):
    with pytest.raises(ValueError, match="internal_neurons"):
        se.SEBlock(8, bad)


def test_seblock_rejects_wrong_input():
    block = se.SEBlock(8, 2)
    with pytest.raises(ValueError, match="8 channels"):
        block(torch.randn(1, 6, 4, 4))
    with pytest.raises(ValueError, match="N x C x H x W"):
        block(torch.randn(8, 4, 4))
    with pytest.raises(TypeError):
        se.SEBlock(8.0, 2)


def test_error_message_follows_language():
    src.set_language("vi")
    with pytest.raises(ValueError, match="tham số `internal_neurons`"):
        se.SEBlock(4, 5)


@pytest.mark.parametrize(("depth", "blocks"), [(18, [64] * 2 + [128] * 2 + [256] * 2 + [512] * 2), (50, None)])
def test_se_resnet_parameter_overhead(depth, blocks):
    plain = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    ours = getattr(se, f"se_resnet{depth}")()
    if blocks is None:  # ResNet-50: 3, 4, 6, 3 bottlenecks of width 256 ... 2048
        blocks = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3
    extra = count_parameters(ours) - count_parameters(plain)
    assert extra == se.se_parameter_overhead(blocks, 16)
    assert sum(isinstance(m, se.SEBlock) for m in ours.modules()) == len(blocks)
    if depth == 50:
        assert count_parameters(plain) == 25_557_032 and extra == 2_530_992  # about +10 %, as Hu et al. report


@pytest.mark.slow
def test_se_resnet_forward_non_square_and_other_depths():
    torch.manual_seed(0)
    net = se.se_resnet18(num_classes=7)
    assert net(torch.randn(2, 3, 64, 40)).shape == (2, 7)
    assert sum(isinstance(m, se.SEBlock) for m in se.se_resnet34().modules()) == 16
    assert sum(isinstance(m, se.SEBlock) for m in se.se_resnet101().modules()) == 33


def test_se_sits_at_the_end_of_the_residual_branch():
    net = se.se_resnet50()
    block = net.layer1[0]
    assert isinstance(block.bn3, nn.Sequential) and isinstance(block.bn3[1], se.SEBlock)
    # SE before the addition: zeroing the gate leaves only the identity path
    block.eval()
    with torch.no_grad():
        block.bn3[1].up.weight.zero_()
        block.bn3[1].up.bias.fill_(-1e4)
    x = torch.randn(1, 64, 8, 8)
    torch.testing.assert_close(block(x), torch.relu(block.downsample(x)))


def test_spatial_se_and_scse():
    torch.manual_seed(3)
    m = se.sSE(6)
    x = torch.randn(2, 6, 5, 7)
    torch.testing.assert_close(m(x), se.spatial_se(x, m.conv.weight.flatten(), m.conv.bias))
    q = torch.sigmoid(m.conv(x))
    torch.testing.assert_close(m(x), x * q)
    both = se.scSE(6)
    torch.testing.assert_close(both(x), both.cse(x) + both.sse(x))
    assert both.cse.internal_neurons == 3
    with pytest.raises(ValueError, match="6 channels"):
        m(torch.randn(2, 5, 5, 7))


def test_add_se_backbone_on_tiny_fcn():
    torch.manual_seed(0)
    model = FCN(5, TinyBackbone())
    before = count_parameters(model)
    se.add_se(model, "backbone", reduction=4)
    widths = [16, 32, 48, 64]
    assert count_parameters(model) - before == se.se_parameter_overhead(widths, 4)
    assert model(torch.randn(2, 3, 64, 48)).shape == (2, 5, 64, 48)
    n = sum(isinstance(m, se.SEBlock) for m in model.modules())
    se.add_se(model, "backbone", reduction=4)  # idempotent
    assert sum(isinstance(m, se.SEBlock) for m in model.modules()) == n == 4


def test_add_se_decoder_fills_the_head_slot_and_trains():
    torch.manual_seed(0)
    plain = FCN(3)
    assert isinstance(plain.classifier.attention, nn.Identity)  # an empty slot until add_se fills it
    model = se.add_se(FCN(3), "decoder")
    sites = se._decoder_sites(model)
    assert [name for name, _, _ in sites] == ["classifier.attention"]
    assert isinstance(model.classifier.attention, se.scSE)
    assert not model._forward_hooks and not any(m._forward_hooks for m in model.modules())  # no hooks
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    out.sum().backward()
    assert model.classifier.attention.sse.conv.weight.grad is not None  # the scSE is in the graph
    # the SE survives a deep copy and a state_dict round trip
    twin = copy.deepcopy(model)
    torch.testing.assert_close(twin(x), model(x))
    fresh = se.add_se(FCN(3), "decoder")
    fresh.load_state_dict(model.state_dict())
    model.eval(), fresh.eval()
    torch.testing.assert_close(fresh(x), model(x))
    # a model built with se= is the same model as one filled afterwards
    assert sorted(FCN(3, se="decoder").state_dict()) == sorted(model.state_dict())


def _modules_that_run(model: nn.Module, x: torch.Tensor) -> tuple[set[str], set[str]]:
    """(names of every submodule, names of those called in a forward), via pre-hooks placed by the test.

    ``ModuleList`` / ``ModuleDict`` are containers that have no forward: they are left out, their children are not.
    """
    called: set[str] = set()
    listed = {n for n, m in model.named_modules() if not isinstance(m, (nn.ModuleList, nn.ModuleDict))}
    handles = [
        module.register_forward_pre_hook(lambda _m, _i, name=name: called.add(name))
        for name, module in model.named_modules()
    ]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return listed, called


@pytest.mark.filterwarnings(
    "ignore::src.aspp.DegenerateASPPWarning"
)  # a shape test at a size where the default rates degenerate (test_aspp tests the warning)
@pytest.mark.parametrize("flag", [False, "backbone", "decoder", "both"])
@pytest.mark.parametrize("arch", ["fcn", "deeplabv3", "pspnet", "refinenet"])
def test_print_model_shows_only_modules_that_run(arch, flag):
    from src.compare import build_model
    from src.refinenet import RefineNet

    torch.manual_seed(0)
    model = build_model(arch, 3)
    if flag:
        se.add_se(model, flag)
    models = [model]
    if arch == "refinenet":
        models.append(RefineNet(3, "tiny", light=False, channels=8, se=flag))  # the full one too
    for m in models:
        listed, called = _modules_that_run(m, torch.randn(2, 3, 48, 40))
        assert listed - called == set(), f"printed but never run: {sorted(listed - called)}"
        if flag:
            assert any(isinstance(x, (se.SEBlock, se.scSE)) for x in m.modules())


def test_modules_that_run_detects_a_module_that_does_not():
    model = FCN(3)
    model.classifier.unused = nn.Conv2d(1, 1, 1)  # printed, never called
    listed, called = _modules_that_run(model, torch.randn(2, 3, 32, 32))
    assert listed - called == {"classifier.unused"}


@pytest.mark.slow
def test_add_se_decoder_on_torchvision_deeplab_and_refinenet():
    from torchvision.models.segmentation import deeplabv3_resnet50

    net = deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=3, aux_loss=False)
    names = sorted(name for name, _, _ in se._decoder_sites(net))
    assert names == ["classifier.0", "classifier.3"]  # the ASPP and the features entering the classifier
    se.add_se(net, "decoder")
    assert isinstance(net.classifier[0][1], se.scSE) and isinstance(net.classifier[3][1], se.scSE)
    se.add_se(net, "decoder")  # idempotent
    assert sum(isinstance(m, se.scSE) for m in net.modules()) == 2
    assert net(torch.randn(2, 3, 64, 64))["out"].shape == (2, 3, 64, 64)
    from src.refinenet import RefineNet

    torch.manual_seed(0)
    rn = RefineNet(5, "tiny", light=True, se="both")
    assert sum(isinstance(m, se.scSE) for m in rn.modules()) == 4  # one per RefineNet block
    assert sum(isinstance(m, se.SEBlock) for m in rn.backbone.modules()) == 4
    assert rn(torch.randn(1, 3, 64, 64)).shape == (1, 5, 64, 64)


def test_add_se_rejects_bad_input():
    with pytest.raises(ValueError, match="where"):
        se.add_se(FCN(3), "everywhere")
    with pytest.raises(TypeError):
        se.add_se("resnet", "backbone")
    with pytest.raises(ValueError, match="reduction"):
        se.add_se(FCN(3), "backbone", reduction=0)
    with pytest.raises(ValueError, match="model"):
        se.add_se(nn.Sequential(nn.Conv2d(3, 3, 3)), "backbone")


def test_record_gates_and_class_gate_means():
    torch.manual_seed(0)
    model = se.add_se(FCN(3), "backbone", reduction=4)
    images = torch.randn(6, 3, 32, 32)
    masks = torch.zeros(6, 32, 32, dtype=torch.long)
    masks[3:] = 2
    masks[5, :, :4] = 255  # ignored pixels do not count
    means = se.class_gate_means(model, images, masks, num_classes=3)
    assert set(means) == {
        "backbone.layer1.attention",
        "backbone.layer2.attention",
        "backbone.layer3.attention",
        "backbone.layer4.attention",
    }
    with se.record_gates(model) as gates:
        model.eval()
        model(images[:3])
    g = gates["backbone.layer4.attention"][0]
    torch.testing.assert_close(means["backbone.layer4.attention"][0], g.mean(0))
    assert torch.isnan(means["backbone.layer1.attention"][1]).all()  # class 1 never dominant
    with pytest.raises(ValueError):
        with se.record_gates(FCN(3)):
            pass


def test_checks_pass_on_reference_and_fail_on_wrong(capsys):
    from src import checks

    assert checks.check_se_forward(se.se_forward).passed
    assert checks.check_se_overhead(se.se_parameter_overhead).passed
    assert checks.check_spatial_se(se.spatial_se).passed

    def softmax_gate(x, w_down, b_down, w_up, b_up):
        s = x.mean((2, 3))
        g = torch.softmax(torch.relu(s @ w_down.t() + b_down) @ w_up.t() + b_up, 1)
        return x * g[:, :, None, None]

    def square_pool(x, w_down, b_down, w_up, b_up):
        s = torch.nn.functional.avg_pool2d(x, x.size(3))[:, :, 0, 0]
        g = torch.sigmoid(torch.relu(s @ w_down.t() + b_down) @ w_up.t() + b_up)
        return x * g[:, :, None, None]

    def no_bias(channels, reduction=16):
        return sum(2 * c * max(1, c // reduction) for c in channels)

    def not_done(*args, **kwargs):
        raise NotImplementedError

    assert not checks.check_se_forward(softmax_gate).passed
    assert not checks.check_se_forward(square_pool).passed
    assert not checks.check_se_overhead(no_bias).passed
    assert not checks.check_spatial_se(not_done).passed
    assert not checks.check_spatial_se(lambda x, w, b: x * torch.sigmoid(b)).passed
    assert "not done yet" in capsys.readouterr().out


@pytest.mark.slow
def test_selfcheck_core_cpu():
    line = se.selfcheck_core(torch.device("cpu"))
    assert "finite" in line or "hữu hạn" in line


@pytest.mark.filterwarnings(
    "ignore::src.aspp.DegenerateASPPWarning"
)  # a shape test at a size where the default rates degenerate (test_aspp tests the warning)
def test_se_flag_of_lesson03_models():
    from src.deeplab import DeepLabV3
    from src.pspnet import PSPNet

    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 48)
    for flag, n_se, n_scse in [("backbone", 4, 0), ("decoder", 0, 2), ("both", 4, 2)]:
        model = DeepLabV3(5, "tiny", se=flag, channels=16)
        assert sum(isinstance(m, se.SEBlock) for m in model.backbone.modules()) == n_se
        assert sum(isinstance(m, se.scSE) for m in model.modules()) == n_scse
        assert model(x).shape == (2, 5, 64, 48)
    psp = PSPNet(5, "tiny", se="decoder")
    assert sum(isinstance(m, se.scSE) for m in psp.modules()) == 2  # pyramid pooling + features before the classifier
    assert psp(x).shape == (2, 5, 64, 48)
