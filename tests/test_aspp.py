"""Tests for src.aspp: torchvision state_dict compatibility, shapes, batch size 1 in train mode, rates, errors."""

import pytest
import torch
from torchvision.models.segmentation.deeplabv3 import ASPP as TorchvisionASPP
from torchvision.models.segmentation.deeplabv3 import DeepLabHead as TorchvisionDeepLabHead

import src
from src.aspp import ASPP, ASPPPooling, DeepLabHead, PoolingBatchNorm, default_atrous_rates

torch.set_num_threads(2)


def _randomise_bn(module: torch.nn.Module) -> None:
    # non-trivial running statistics, so that a wrong BN mapping would show up
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def test_aspp_loads_torchvision_state_dict_and_matches():
    torch.manual_seed(0)
    ref = TorchvisionASPP(32, [2, 4, 6], out_channels=16)
    _randomise_bn(ref)
    ours = ASPP(32, (2, 4, 6), out_channels=16)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 32, 9, 11)
    ref.eval(), ours.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x))
    ref.train(), ours.train()
    torch.manual_seed(1)
    a = ref(x)
    torch.manual_seed(1)  # same dropout mask
    torch.testing.assert_close(ours(x), a)


def test_deeplab_head_loads_torchvision_state_dict_and_matches():
    torch.manual_seed(0)
    ref = TorchvisionDeepLabHead(64, 5, atrous_rates=(6, 12, 18))
    _randomise_bn(ref)
    ours = DeepLabHead(64, 5, atrous_rates=(6, 12, 18))
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict(), strict=True)
    ref.eval(), ours.eval()
    x = torch.randn(1, 64, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x))
    # and the other way round: our weights into torchvision's head
    ref.load_state_dict(DeepLabHead(64, 5, atrous_rates=(6, 12, 18)).state_dict(), strict=True)


def test_aspp_shapes_and_branches():
    aspp = ASPP(24, (1, 2, 3), out_channels=8)
    assert len(aspp.convs) == 5  # 1x1, three atrous, image pooling
    assert [b[0].dilation for b in aspp.convs[1:4]] == [(1, 1), (2, 2), (3, 3)]
    assert aspp(torch.randn(2, 24, 7, 5)).shape == (2, 8, 7, 5)
    no_pool = ASPP(24, (1, 2, 3), out_channels=8, image_pooling=False)
    assert len(no_pool.convs) == 4 and not any(isinstance(b, ASPPPooling) for b in no_pool.convs)
    assert no_pool.project[0].in_channels == 32


def test_image_pooling_branch_is_constant_over_space():
    branch = ASPPPooling(6, 4).eval()
    out = branch(torch.randn(3, 6, 5, 7))
    assert out.shape == (3, 4, 5, 7)
    torch.testing.assert_close(out, out[:, :, :1, :1].expand_as(out))


def test_batch_size_one_in_train_mode():
    # torchvision's ASPP raises here ("Expected more than 1 value per channel when training")
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        TorchvisionASPP(8, [1, 2], 4).train()(torch.randn(1, 8, 6, 6))
    aspp = ASPP(8, (1, 2), 4).train()
    before = aspp.convs[-1][2].running_mean.clone()
    out = aspp(torch.randn(1, 8, 6, 6))
    out.sum().backward()
    assert out.shape == (1, 4, 6, 6)
    assert aspp.convs[-1][1].weight.grad is not None  # the pooling branch still learns
    torch.testing.assert_close(aspp.convs[-1][2].running_mean, before)  # running stats untouched
    # with a batch of 2 it is ordinary batch norm and updates its statistics
    aspp(torch.randn(2, 8, 6, 6))
    assert not torch.equal(aspp.convs[-1][2].running_mean, before)


def test_pooling_batch_norm_equals_batch_norm_otherwise():
    torch.manual_seed(0)
    ours, ref = PoolingBatchNorm(3), torch.nn.BatchNorm2d(3)
    x = torch.randn(4, 3, 2, 2)
    torch.testing.assert_close(ours.train()(x), ref.train()(x))
    torch.testing.assert_close(ours.running_var, ref.running_var)
    one = torch.randn(1, 3, 1, 1)
    torch.testing.assert_close(ours.train()(one), ref.eval()(one))


def test_default_rates():
    assert default_atrous_rates(16) == (6, 12, 18)
    assert default_atrous_rates(8) == (12, 24, 36)
    src.set_language("en")
    try:
        with pytest.raises(ValueError, match="atrous_rates explicitly"):
            default_atrous_rates(32)
    finally:
        src.set_language("vi")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"in_channels": 0, "atrous_rates": (1, 2)},
        {"in_channels": 8, "atrous_rates": (1, 0)},
        {"in_channels": 8, "atrous_rates": "12"},
        {"in_channels": 8, "atrous_rates": (1.5,)},
        {"in_channels": 8, "atrous_rates": (1,), "out_channels": -1},
        {"in_channels": 8, "atrous_rates": (1,), "dropout": 1.5},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ASPP(**kwargs)


def test_bad_input_tensor():
    aspp = ASPP(8, (1,), 4)
    with pytest.raises(ValueError, match="x"):
        aspp(torch.randn(1, 7, 4, 4))
    with pytest.raises(ValueError):
        aspp(torch.randn(8, 4, 4))
    with pytest.raises(ValueError, match="num_classes"):
        DeepLabHead(8, 0)


def test_checks_of_lesson_03_aspp_exercises(capsys):
    import torch.nn.functional as F

    from src import checks

    def aspp_forward(aspp, x):
        return aspp.project(torch.cat([branch(x) for branch in aspp.convs], dim=1))

    def image_pooling(x, conv, bn):
        y = F.relu(bn(conv(x.mean((2, 3), keepdim=True))))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def no_project(aspp, x):
        return torch.cat([branch(x) for branch in aspp.convs], dim=1)

    def no_relu(x, conv, bn):
        return bn(conv(x.mean((2, 3), keepdim=True))).expand(-1, -1, *x.shape[-2:])

    def unsolved(*args):
        raise NotImplementedError

    assert checks.check_aspp_forward(aspp_forward).passed
    assert checks.check_image_pooling(image_pooling).passed
    assert not checks.check_aspp_forward(no_project).passed
    assert not checks.check_image_pooling(no_relu).passed
    assert not checks.check_image_pooling(unsolved).passed
    assert "03-2" in capsys.readouterr().out
