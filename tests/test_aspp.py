"""Tests for src.aspp: torchvision state_dict compatibility, shapes, batch size 1 in train mode, rates, errors."""

import warnings
from pathlib import Path

import pytest
import torch
from torchvision.models.segmentation.deeplabv3 import ASPP as TorchvisionASPP
from torchvision.models.segmentation.deeplabv3 import DeepLabHead as TorchvisionDeepLabHead

import src
from src.aspp import (
    ASPP,
    ASPPPooling,
    DeepLabHead,
    DegenerateASPPWarning,
    PoolingBatchNorm,
    default_atrous_rates,
    degenerate_rates,
    scaled_atrous_rates,
    valid_tap_fraction,
)


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
    x = torch.randn(1, 64, 20, 20)  # > 18: no branch degenerate
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


# ----------------------------------------------------------------------------- degenerate rates


def test_degenerate_rate_warns_with_rate_map_size_and_valid_fraction():
    src.set_language("en")
    try:
        aspp = ASPP(4, (2, 8), 4).eval()
        with pytest.warns(DegenerateASPPWarning) as caught:
            aspp(torch.randn(1, 4, 8, 8))
        assert len(caught) == 1  # rate 2 is fine on 8x8, rate 8 is not
        message = str(caught[0].message)
        assert "rate 8" in message and "8x8" in message and "11%" in message  # 1 of 9 taps valid everywhere
    finally:
        src.set_language("vi")
    with pytest.warns(DegenerateASPPWarning, match="hệ số giãn 8 .* 8x8"):
        ASPP(4, (8,), 4).eval()(torch.randn(1, 4, 8, 8))


def test_warning_once_per_module_and_map_size_and_on_either_side():
    aspp = ASPP(4, (6,), 4).eval()
    with pytest.warns(DegenerateASPPWarning, match="20x6"):
        aspp(torch.randn(1, 4, 20, 6))  # the width alone is enough
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        aspp(torch.randn(1, 4, 20, 6))  # already warned for this size
        aspp(torch.randn(1, 4, 7, 7))  # rate 6 < 7: fine
    assert issubclass(DegenerateASPPWarning, UserWarning)


def test_no_warning_when_every_rate_fits():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ASPP(4, (2, 4, 6), 4).eval()(torch.randn(1, 4, 8, 8))
        DeepLabHead(4, 3, atrous_rates=(6, 12, 18)).eval()(torch.randn(1, 4, 33, 33))


def test_degenerate_branch_really_is_a_1x1_convolution():
    # why we warn: zeroing the off-centre taps of a rate >= side branch leaves the output unchanged
    torch.manual_seed(0)
    aspp = ASPP(4, (8,), 4).eval()
    x = torch.randn(2, 4, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateASPPWarning)
        before = aspp(x)
        conv = aspp.convs[1][0]
        centre = conv.weight.data[:, :, 1, 1].clone()
        conv.weight.data.zero_()
        conv.weight.data[:, :, 1, 1] = centre
        torch.testing.assert_close(aspp(x), before)


def test_valid_tap_fraction_and_degenerate_rates():
    assert valid_tap_fraction(8, 8, 8) == pytest.approx(1 / 9)
    assert valid_tap_fraction(100, 100, 1) == pytest.approx((98 + 2 * 2 / 3) ** 2 / 100**2)
    assert valid_tap_fraction(8, 20, 8) == pytest.approx(1 / 3 * valid_tap_fraction(20, 20, 8) ** 0.5)
    assert degenerate_rates((2, 4, 6), 8, 8) == ()
    assert degenerate_rates((6, 12, 18), 8, 16) == (12, 18)
    assert degenerate_rates((12, 24, 36), 8, 8) == (12, 24, 36)


def test_scaled_atrous_rates():
    assert scaled_atrous_rates(33) == (6, 12, 18)  # DeepLabv3's 513-px crop at OS 16
    assert scaled_atrous_rates(65, (12, 24, 36), 65) == (12, 24, 36)
    for size in (4, 8, 12, 16):
        rates = scaled_atrous_rates(size)
        assert degenerate_rates(rates, size, size) == ()
        assert list(rates) == sorted(set(rates))  # strictly increasing
    with pytest.raises(ValueError, match="feature_size"):
        scaled_atrous_rates(1)
    with pytest.raises(ValueError, match="atrous_rates"):
        scaled_atrous_rates(8, (0, 2))


def test_course_model_configs_are_not_degenerate():
    """compare.build_model (lesson 07, benchmarks) and lesson 03's ablation at the sizes they are used."""
    from src import compare
    from src.deeplab import context_ablation

    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateASPPWarning)
        for size in (64, 96):
            compare.build_model("deeplabv3", 5).eval()(torch.randn(1, 3, size, size))
        for model in context_ablation(num_classes=4).values():
            model.eval()(torch.randn(1, 3, 64, 64))


def test_executed_notebooks_show_no_degenerate_aspp_warning():
    """The executed solutions (what `make notebooks` produced) never print a DegenerateASPPWarning."""
    import json

    root = Path(__file__).resolve().parent.parent / "solutions"
    notebooks = sorted(root.glob("*/*.ipynb"))
    if not notebooks:
        pytest.skip("no generated notebooks")
    offenders = []
    for path in notebooks:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for output in cell.get("outputs", []):
                text = "".join(output.get("text", [])) + json.dumps(output.get("data", {}))
                # the warning as Python prints it ("...: DegenerateASPPWarning: ASPP: atrous rate ..."), not a
                # sentence that names it (lesson 07 explains why its old capstone table was degenerate)
                if "DegenerateASPPWarning: ASPP" in text:
                    offenders.append(path.name)
    assert not offenders, f"DegenerateASPPWarning in {sorted(set(offenders))}: rebuild after fixing the rates"
