"""Tests of src.refinenet (lesson 05): blocks, the cascade, odd sizes, bad input, the checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import src
import src.checks
from src import refinenet as rn
from src.models import TinyBackbone


@pytest.fixture(autouse=True)
def _english():
    src.set_language("en")
    yield
    src.set_language("vi")


def test_rcu_is_identity_plus_two_convs_without_batch_norm():
    torch.manual_seed(0)
    rcu = rn.ResidualConvUnit(4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in rcu.modules())
    x = torch.randn(2, 4, 7, 9)
    expected = x + rcu.conv2(F.relu(rcu.conv1(F.relu(x))))
    assert torch.allclose(rcu(x), expected)
    nn.init.zeros_(rcu.conv2.weight)
    assert torch.equal(rcu(x), x)  # zero residual branch: the unit is the identity


def test_crp_matches_a_hand_written_chain():
    torch.manual_seed(0)
    crp = rn.ChainedResidualPooling(3, blocks=3)
    x = torch.randn(1, 3, 11, 6)
    r = F.relu(x)
    p1 = crp.convs[0](F.max_pool2d(r, 5, 1, 2))
    p2 = crp.convs[1](F.max_pool2d(p1, 5, 1, 2))
    p3 = crp.convs[2](F.max_pool2d(p2, 5, 1, 2))
    assert torch.allclose(crp(x), r + p1 + p2 + p3, atol=1e-6)
    assert crp(x).shape == x.shape


def test_crp_with_zero_weights_is_relu():
    crp = rn.ChainedResidualPooling(2, blocks=4)
    for conv in crp.convs:
        nn.init.zeros_(conv.weight)
    x = torch.randn(1, 2, 5, 5)
    assert torch.equal(crp(x), F.relu(x))


def test_crp_pooling_widens_the_receptive_field():
    # one pooling block: a single hot pixel reaches a 5x5 (max-pool) then 7x7 (3x3 conv) window
    crp = rn.ChainedResidualPooling(1, blocks=1)
    nn.init.ones_(crp.convs[0].weight)
    x = torch.zeros(1, 1, 15, 15)
    x[0, 0, 7, 7] = 1.0
    support = (crp(x)[0, 0] != 0).nonzero()
    assert support[:, 0].min() == 7 - 3 and support[:, 0].max() == 7 + 3


def test_fusion_upsamples_each_path_to_the_largest_exact_size_and_sums():
    torch.manual_seed(0)
    fusion = rn.MultiResolutionFusion([8, 4])
    assert fusion.out_channels == 4  # the smallest feature dimension
    coarse, fine = torch.randn(1, 8, 3, 5), torch.randn(1, 4, 6, 9)
    out = fusion(coarse, fine)
    up = F.interpolate(fusion.convs[0](coarse), size=(6, 9), mode="bilinear", align_corners=False)
    assert out.shape == (1, 4, 6, 9)
    assert torch.allclose(out, up + fusion.convs[1](fine), atol=1e-6)
    assert torch.allclose(fusion([coarse, fine]), out)  # a list works too


def test_fusion_single_input_passes_through():
    fusion = rn.MultiResolutionFusion([6])
    x = torch.randn(1, 6, 4, 4)
    assert torch.equal(fusion(x), x)


def test_light_block_has_no_rcu_and_only_1x1_convs():
    block = rn.RefineNetBlock([8, 4], 4, light=True)
    assert not any(isinstance(m, rn.ResidualConvUnit) for m in block.modules())
    assert all(m.kernel_size == (1, 1) for m in block.modules() if isinstance(m, nn.Conv2d))
    full = rn.RefineNetBlock([8, 4], 4)
    assert sum(isinstance(m, rn.ResidualConvUnit) for m in full.modules()) == 2 * 2 + 1


@settings(max_examples=8, deadline=None)
@given(h=st.integers(33, 80), w=st.integers(33, 80), light=st.booleans())
def test_refinenet_any_size_gives_logits_at_the_input_size(h, w, light):
    torch.manual_seed(0)
    model = rn.RefineNet(3, TinyBackbone(), light=light, channels=8).eval()
    with torch.no_grad():
        maps = model.cascade(torch.randn(1, 3, h, w))
        out = model(torch.randn(1, 3, h, w))
    assert out.shape == (1, 3, h, w)
    # each RefineNet-m works at the size of backbone stage m; the logits at 1/4
    for m in (1, 2, 3, 4):
        assert maps[f"refine{m}"].shape[-2:] == maps[f"layer{m}"].shape[-2:]
    assert maps["logits"].shape[-2:] == maps["layer1"].shape[-2:]
    assert maps["refine4"].shape[1] == 16 and maps["refine1"].shape[1] == 8


def test_refinenet_trains_a_step_and_all_parameters_get_gradients():
    torch.manual_seed(0)
    model = rn.RefineNet(4, "tiny", light=False, channels=8)
    out = model(torch.randn(2, 3, 37, 41))
    F.cross_entropy(out, torch.randint(0, 4, (2, 37, 41))).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing


@pytest.mark.slow
def test_refinenet_on_resnet18_at_stride_32():
    model = rn.RefineNet(21, "resnet18", channels=32).eval()
    assert model.backbone.channels["layer4"] == 512
    with torch.no_grad():
        maps = model.cascade(torch.randn(1, 3, 97, 65))
        out = model(torch.randn(1, 3, 97, 65))
    assert out.shape == (1, 21, 97, 65)
    assert maps["layer4"].shape[-2:] == (4, 3)  # strided backbone: output stride 32 (ceil)


def test_light_refinenet_is_smaller_than_the_full_one():
    light = rn.RefineNet(5, TinyBackbone(), light=True, channels=32)
    full = rn.RefineNet(5, TinyBackbone(), light=False, channels=32)
    assert src.models.count_parameters(light) < src.models.count_parameters(full) / 3


@pytest.mark.parametrize(
    "call, kind, word",
    [
        (lambda: rn.RefineNet(0, TinyBackbone()), ValueError, "num_classes"),
        (lambda: rn.RefineNet(3, TinyBackbone(), channels=0), ValueError, "channels"),
        (lambda: rn.RefineNet(3, TinyBackbone(), features=8), TypeError, "features"),  # renamed to channels
        (lambda: rn.RefineNet(3, TinyBackbone(), se="everywhere"), ValueError, "se"),
        (lambda: rn.RefineNet(3, TinyBackbone(), se=1), ValueError, "se"),
        (lambda: rn.RefineNet(3, nn.Conv2d(3, 3, 1)), TypeError, "backbone"),
        (lambda: rn.RefineNet(3, "vgg16"), ValueError, "name"),
        (lambda: rn.RefineNet(3, TinyBackbone())(torch.randn(3, 32, 32)), ValueError, "x"),
        (lambda: rn.ResidualConvUnit(4)(torch.randn(1, 5, 8, 8)), ValueError, "channels"),
        (lambda: rn.ResidualConvUnit(0), ValueError, "channels"),
        (lambda: rn.MultiResolutionFusion(8), TypeError, "in_channels"),
        (lambda: rn.MultiResolutionFusion([8, 4])(torch.randn(1, 8, 4, 4)), ValueError, "features"),
        (lambda: rn.MultiResolutionFusion([8, 4], kernel_size=5), ValueError, "kernel_size"),
        (lambda: rn.ChainedResidualPooling(4, blocks=-1), ValueError, "blocks"),
        (lambda: rn.chained_residual_pooling([1, 2], []), TypeError, "x"),
        (lambda: rn.chained_residual_pooling(torch.randn(1, 1, 4, 4), [], pool_size=4), ValueError, "pool_size"),
        (lambda: rn.RefineNetBlock([4, 4], 4)(torch.randn(1, 4, 4, 4)), ValueError, "features"),
    ],
)
def test_bad_input_names_the_argument(call, kind, word):
    with pytest.raises(kind) as info:
        call()
    assert word in str(info.value)


def test_error_message_follows_the_language():
    src.set_language("vi")
    with pytest.raises(ValueError, match="tham số `num_classes`"):
        rn.RefineNet(0, TinyBackbone())


def test_se_flag_calls_add_se(monkeypatch):
    import sys
    import types

    calls = []
    fake = types.ModuleType("src.se")
    fake.add_se = lambda model, where="both", reduction=16: calls.append(where)
    monkeypatch.setitem(sys.modules, "src.se", fake)
    monkeypatch.setattr(src, "se", fake, raising=False)
    rn.RefineNet(3, TinyBackbone(), light=True, channels=8, se=True)
    rn.RefineNet(3, TinyBackbone(), light=True, channels=8, se="decoder")
    rn.RefineNet(3, TinyBackbone(), light=True, channels=8, se=False)
    assert calls == ["both", "decoder"]


def test_selfcheck_core_runs_on_cpu():
    line = rn.selfcheck_core(torch.device("cpu"))
    assert "light" in line and "full" in line and "(2, 5, 65, 47)" in line


def test_draw_cascade_with_shapes():
    import matplotlib

    matplotlib.use("Agg")
    model = rn.RefineNet(3, TinyBackbone(), light=True, channels=8).eval()
    with torch.no_grad():
        shapes = {k: tuple(v.shape) for k, v in model.cascade(torch.randn(1, 3, 64, 64)).items()}
    fig = rn.draw_cascade(shapes)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "RefineNet-4" in texts and "16×2×2" in texts
    matplotlib.pyplot.close(fig)


# --- the exercise checks ---------------------------------------------------


def _crp_solution(x, convs, pool_size=5):
    x = F.relu(x)
    path = x
    for conv in convs:
        path = conv(F.max_pool2d(path, pool_size, stride=1, padding=pool_size // 2))
        x = x + path
    return x


def _crp_wrong_no_chain(x, convs, pool_size=5):
    # pools the input every time instead of the previous block's output
    x = F.relu(x)
    out = x
    for conv in convs:
        out = out + conv(F.max_pool2d(x, pool_size, stride=1, padding=pool_size // 2))
    return out


def _fusion_solution(features, convs):
    size = max((f.shape[-2:] for f in features), key=lambda s: s[0] * s[1])
    return sum(F.interpolate(c(f), size=size, mode="bilinear", align_corners=False) for f, c in zip(features, convs))


def _fusion_wrong_scale_factor(features, convs):
    # doubles instead of matching the exact size: breaks on odd sizes
    out = convs[-1](features[-1])
    for f, c in zip(features[:-1], convs[:-1]):
        out = out + F.interpolate(c(f), scale_factor=2, mode="bilinear", align_corners=False)
    return out


def _not_done(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize(
    "check, good, bad",
    [
        ("check_chained_residual_pooling", _crp_solution, _crp_wrong_no_chain),
        ("check_multi_resolution_fusion", _fusion_solution, _fusion_wrong_scale_factor),
    ],
)
def test_checks_pass_a_solution_and_fail_wrong_ones(check, good, bad, capsys):
    fn = getattr(src.checks, check)
    assert fn(good).passed
    assert not fn(bad).passed
    result = fn(_not_done)
    assert not result.passed and "not done" in result.message
    assert not fn("not a function").passed
    out = capsys.readouterr().out
    assert "✅" in out and "❌" in out
