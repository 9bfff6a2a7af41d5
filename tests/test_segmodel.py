"""Tests of src.segmodel (the base class of every segmentation model) and src._validate (one validation rule)."""

import ast
import inspect
import pathlib

import pytest
import torch
import torch.nn as nn

from src import _validate as v
from src.backbones import build_backbone
from src.deeplab import DeepLabV3
from src.models import FCN, count_parameters
from src.pspnet import PSPNet
from src.refinenet import RefineNet
from src.segmodel import ClassifierHead, SegmentationModel

MODELS = [FCN, DeepLabV3, PSPNet, RefineNet]
SMALL = {FCN: {}, DeepLabV3: {"atrous_rates": (1, 2, 3)}, PSPNet: {}, RefineNet: {"light": True}}


@pytest.mark.parametrize("cls", MODELS)
def test_one_signature(cls):
    assert issubclass(cls, SegmentationModel)
    params = inspect.signature(cls).parameters
    assert list(params)[:2] == ["num_classes", "backbone"] and params["backbone"].default == "tiny"
    for name in ("output_stride", "channels", "se"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["se"].default is False


@pytest.mark.filterwarnings(
    "ignore::src.aspp.DegenerateASPPWarning"
)  # a shape test at a size where the default rates degenerate (test_aspp tests the warning)
@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("num_classes", [1, 4])
def test_forward_gives_logits_at_the_input_size(cls, num_classes):
    torch.manual_seed(0)
    model = cls(num_classes, "tiny", channels=8, **SMALL[cls])
    assert model.num_classes == num_classes and model.binary == (num_classes == 1) and model.channels == 8
    out = model(torch.randn(2, 3, 45, 38))  # odd sizes: upsampled exactly to H x W
    assert out.shape == (2, num_classes, 45, 38)
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("cls", MODELS)
def test_output_stride_is_never_ignored(cls):
    default = cls.default_output_stride
    assert cls(3, "tiny", channels=8, **SMALL[cls]).output_stride == default
    other = 8 if default != 8 else 16
    model = cls(3, "tiny", output_stride=other, channels=8, **SMALL[cls])
    assert model.output_stride == other == model.backbone.output_stride
    module = build_backbone("tiny", output_stride=16)
    assert cls(3, module, channels=8, **SMALL[cls]).output_stride == 16  # None: the module's own
    with pytest.raises(ValueError, match="output_stride"):
        cls(3, module, output_stride=32, channels=8, **SMALL[cls])  # FCN used to ignore this silently


@pytest.mark.parametrize("cls", MODELS)
def test_bad_arguments_follow_one_rule(cls):
    with pytest.raises(TypeError, match="num_classes"):
        cls("tiny", 3)  # the old order of DeepLabV3 / PSPNet / RefineNet
    with pytest.raises(TypeError, match="num_classes"):
        cls(2.0)
    with pytest.raises(TypeError, match="num_classes"):
        cls(True)
    with pytest.raises(ValueError, match="num_classes"):
        cls(0)
    with pytest.raises(ValueError, match="channels"):
        cls(3, channels=0)
    with pytest.raises(TypeError, match="channels"):
        cls(3, channels="wide")
    with pytest.raises(ValueError, match="se"):
        cls(3, se="head")
    with pytest.raises(TypeError, match="bogus"):
        cls(3, bogus=1)
    with pytest.raises(TypeError, match="backbone"):
        cls(3, nn.Conv2d(3, 3, 1))
    with pytest.raises(ValueError, match="name"):
        cls(3, "vgg16")
    model = cls(3, channels=8, **SMALL[cls])
    with pytest.raises(ValueError, match="x"):
        model(torch.randn(3, 32, 32))
    with pytest.raises(TypeError, match="x"):
        model("image")


@pytest.mark.parametrize("cls", MODELS)
def test_se_option_fills_slots(cls):
    from src import se

    plain = cls(3, channels=8, **SMALL[cls])
    for flag, kinds in [("backbone", {se.SEBlock}), ("decoder", {se.scSE}), (True, {se.SEBlock, se.scSE})]:
        model = cls(3, channels=8, se=flag, **SMALL[cls])
        found = {type(m) for m in model.modules() if isinstance(m, (se.SEBlock, se.scSE))}
        assert kinds <= found and count_parameters(model) > count_parameters(plain)
        if flag == "backbone":
            assert se.scSE not in found


def test_classifier_head_slots_and_keys():
    head = ClassifierHead(nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 2, 1), channels=6, context_channels=6)
    assert [k for k in head.state_dict()] == ["0.weight", "0.bias", "2.weight", "2.bias"]  # slots hold nothing
    assert isinstance(head.attention, nn.Identity) and head.attention.attention_channels == 6
    x = torch.randn(1, 4, 5, 5)
    torch.testing.assert_close(head(x), head[2](head[1](head[0](x))))


def test_subclass_only_defines_its_head():
    class Tiny1x1(SegmentationModel):
        default_channels = 8

        def build_head(self, stages, **options):
            return nn.Conv2d(stages["layer4"], self.num_classes, 1)

    model = Tiny1x1(2)
    assert model(torch.randn(1, 3, 33, 31)).shape == (1, 2, 33, 31)

    class NoHead(SegmentationModel):
        pass

    with pytest.raises(NotImplementedError):
        NoHead(2)


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph ``edges`` as a path, or None."""
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> list[str] | None:
        state[n] = 1
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return [*path, n, m]
            if m in edges and m not in state and (found := visit(m, [*path, n])):
                return found
        state[n] = 2
        return None

    for name in sorted(edges):
        if name not in state and (found := visit(name, [])):
            return found
    return None


def test_no_import_cycle_among_model_modules():
    """Module-level ``from .x import`` edges among src's model modules form no cycle (deeplab <-> pspnet did)."""
    root = pathlib.Path(__file__).resolve().parents[1] / "src"
    names = ["segmodel", "backbones", "models", "deeplab", "pspnet", "refinenet", "se", "compare", "ablations"]
    names += ["aspp", "_validate", "i18n", "losses", "dilated"]
    edges = {}
    for name in names:
        tree = ast.parse((root / f"{name}.py").read_text())
        edges[name] = {
            node.module.split(".")[0]
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        }
    assert _find_cycle(edges) is None, _find_cycle(edges)
    assert _find_cycle({"deeplab": {"pspnet"}, "pspnet": {"deeplab"}}) == ["deeplab", "pspnet", "deeplab"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_validators():
    assert v.check_int("f", "n", 3, 1, 5) == 3
    with pytest.raises(TypeError, match=r"`n`.*an integer"):
        v.check_int("f", "n", True)
    with pytest.raises(ValueError, match=r"`n`.*from 1 to 5.*got 6"):
        v.check_int("f", "n", 6, 1, 5)
    assert v.check_choice("f", "se", "both", (False, True, "both")) == "both"
    with pytest.raises(ValueError, match="`se`"):
        v.check_choice("f", "se", 1, (False, True))  # 1 == True, but it is not a flag
    assert v.check_int_sequence("f", "rates", [1, 2]) == (1, 2)
    with pytest.raises(TypeError, match="rates"):
        v.check_int_sequence("f", "rates", "12")
    with pytest.raises(ValueError, match="rates"):
        v.check_int_sequence("f", "rates", (1, 0))
    with pytest.raises(ValueError, match="rates"):
        v.check_int_sequence("f", "rates", ())
    assert v.check_number("f", "p", 0.5, 0, 1) == 0.5
    with pytest.raises(ValueError, match="p"):
        v.check_number("f", "p", 1.0, 0, 1)
    with pytest.raises(TypeError, match="p"):
        v.check_number("f", "p", "0.5", 0, 1)
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        v.check_image("f", torch.zeros(1, 4, 2, 2), 3)
    with pytest.raises(TypeError, match="extra"):
        v.check_options("f", {"extra": 1}, ("known",))


def test_validator_messages_follow_the_language():
    import src

    src.set_language("vi")
    with pytest.raises(ValueError, match="tham số `channels` cần một số nguyên >= 1, nhưng nhận được 0"):
        FCN(3, channels=0)


def test_inputs_are_checked_once_at_the_door(monkeypatch):
    from src import pspnet, refinenet

    calls = []
    monkeypatch.setattr(refinenet, "_check_map", lambda *a, **k: calls.append(a[0]))
    monkeypatch.setattr(pspnet, "check_feature_map", lambda *a, **k: calls.append(a[0]))
    x = torch.randn(2, 3, 32, 32)
    RefineNet(3, channels=8, light=False)(x)
    PSPNet(3, channels=8)(x)
    assert calls == []  # inside a model, the blocks trust the checked input
    refinenet.ResidualConvUnit(4)(torch.randn(1, 4, 5, 5))
    pspnet.PyramidPooling(4)(torch.randn(1, 4, 5, 5))
    assert calls == ["ResidualConvUnit.forward", "PyramidPooling.forward"]  # called directly, they check
    assert v.checking()
    with pytest.raises(RuntimeError):
        with v.validated():
            assert not v.checking()
            raise RuntimeError
    assert v.checking()  # restored after an exception
