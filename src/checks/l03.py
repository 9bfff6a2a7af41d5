"""Checks for lesson 03's exercises: the ASPP forward pass and its image-pooling branch (DeepLabv3,
arXiv 1706.05587) and the Dice loss (V-Net, arXiv 1606.04797)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from ..aspp import ASPP, ASPPPooling
from ..i18n import tr
from ..losses import dice_loss
from ._core import CheckResult, Mismatch, compare, exercise, run_check
from ._hidden import register_hidden, to_plain

__all__ = ["check_aspp_forward", "check_dice_loss", "check_image_pooling"]


def _random_bn(bn: nn.BatchNorm2d, g: torch.Generator) -> nn.BatchNorm2d:
    bn.running_mean.copy_(torch.randn(bn.num_features, generator=g) * 0.3)
    bn.running_var.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
    bn.weight.data.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
    bn.bias.data.copy_(torch.randn(bn.num_features, generator=g) * 0.2)
    return bn.eval()


def _aspp(in_channels: int, rates: tuple[int, ...], out_channels: int, pooling: bool, seed: int) -> ASPP:
    with torch.random.fork_rng():  # do not disturb the notebook's random state
        torch.manual_seed(seed)
        aspp = ASPP(in_channels, rates, out_channels, image_pooling=pooling)
    g = torch.Generator().manual_seed(seed)
    for m in aspp.modules():
        if isinstance(m, nn.BatchNorm2d):
            _random_bn(m, g)
    return aspp.eval()


def _aspp_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(3)
    return [
        ((_aspp(8, (1, 2, 3), 4, True, 0), torch.randn(2, 8, 9, 9, generator=g)), {}),
        ((_aspp(6, (2, 5), 3, False, 1), torch.randn(1, 6, 7, 10, generator=g)), {}),  # no image pooling
        ((_aspp(4, (6, 12, 18), 5, True, 2), torch.randn(3, 4, 20, 20, generator=g)), {}),  # rates < the side
    ]


def _no_grad_call(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with torch.no_grad():
            return fn(*args, **kwargs)

    return call


def _hidden_no_grad_call(obj: Any, args: tuple, kwargs: dict) -> Any:
    with torch.no_grad():
        return to_plain(obj(*args, **kwargs))


_ASPP_HINTS = (
    (
        "mỗi nhánh trong aspp.convs nhận cùng một x; kết quả của các nhánh được nối theo chiều kênh rồi mới "
        "qua phép chiếu; đừng bỏ sót nhánh nào (kể cả nhánh mức ảnh).",
        "every branch in aspp.convs gets the same x; the branches' outputs are concatenated along the channels "
        "before the projection; do not leave out any branch (the image-level one included).",
    ),
    (
        "chiều kênh là dim=1 (N x C x H x W); dùng torch.cat trên một danh sách các đầu ra, theo đúng thứ tự "
        "của aspp.convs, rồi gọi aspp.project.",
        "the channel dimension is dim=1 (N x C x H x W); torch.cat a list of the outputs, in aspp.convs' order, "
        "then call aspp.project.",
    ),
)


@exercise("03-1", ("lượt truyền xuôi của ASPP", "ASPP forward"), cases=_aspp_cases)
def check_aspp_forward(learner: Callable[..., Any]) -> CheckResult:
    """``learner(aspp, x)``: run every branch of ``aspp.convs`` on x, concatenate on channels, ``aspp.project``."""
    return run_check(
        "03-1",
        _named(learner, _no_grad_call(learner)),
        _aspp_cases,
        _no_grad_call(lambda a, x: a(x)),
        hints=_ASPP_HINTS,
    )


def _named(learner: Any, wrapper: Callable[..., Any]) -> Callable[..., Any]:
    """``wrapper`` with the learner's signature (for the inputs shown in a verdict), or the learner itself."""
    if not callable(learner):
        return learner
    try:
        wrapper.__signature__ = inspect.signature(learner)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        pass
    return wrapper


def _pooling_reference(x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
    branch = ASPPPooling(conv.in_channels, conv.out_channels)
    branch[1].load_state_dict(conv.state_dict())
    branch[2].load_state_dict(bn.state_dict())
    with torch.no_grad():
        return branch.eval()(x)


def _pooling_cases_from(seed: int, shapes: list[tuple[int, int, int, int, int]]) -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(seed)
    cases = []
    for offset, (n, c, o, h, w) in enumerate(shapes):
        with torch.random.fork_rng():
            torch.manual_seed(seed + offset)
            conv = nn.Conv2d(c, o, 1, bias=False)
        bn = _random_bn(nn.BatchNorm2d(o), g)
        cases.append(((torch.randn(n, c, h, w, generator=g) + 0.5, conv, bn), {}))
    return cases


def _pooling_cases() -> list[tuple[tuple, dict]]:
    return _pooling_cases_from(4, [(2, 8, 4, 6, 6), (1, 5, 3, 7, 11), (3, 4, 6, 1, 1)])


_POOLING_HINTS = (
    (
        "gộp trung bình toàn cục: trung bình trên cả H và W của từng ảnh (không phải trên batch hay kênh), "
        "giữ lại hai chiều 1 x 1; rồi tích chập 1x1, batch norm, ReLU (theo thứ tự đó), rồi trải ra kích thước "
        "ban đầu của x.",
        "global average pooling: the mean over both H and W of each image (not over the batch or channels), "
        "keeping two 1 x 1 dims; then the 1x1 conv, batch norm, ReLU (in that order), then spread back to x's size.",
    ),
    (
        "x.mean với dim=(2, 3) và keepdim=True cho N x C x 1 x 1; cuối cùng F.interpolate tới size=x.shape[-2:] "
        "(mode='bilinear', align_corners=False) — không dùng max thay cho trung bình.",
        "x.mean with dim=(2, 3) and keepdim=True gives N x C x 1 x 1; at the end F.interpolate to "
        "size=x.shape[-2:] (mode='bilinear', align_corners=False) — not the max instead of the mean.",
    ),
)


@exercise("03-2", ("nhánh đặc trưng mức ảnh", "image-pooling branch"), cases=_pooling_cases)
def check_image_pooling(learner: Callable[..., Any]) -> CheckResult:
    """``learner(x, conv, bn)``: global average pooling, 1x1 ``conv``, ``bn``, ReLU, bilinear upsampling to x's size."""
    return run_check(
        "03-2", _named(learner, _no_grad_call(learner)), _pooling_cases, _pooling_reference, hints=_POOLING_HINTS
    )


def _dice_cases_from(seed: int, specs: list[tuple[tuple[int, ...], int, float, dict]]) -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(seed)
    cases = []
    for (n, c, h, w), scale, fill, kwargs in specs:
        logits = (torch.randn(n, c, h, w, generator=g) * scale).requires_grad_(True)
        target = torch.randint(0, c, (n, h, w), generator=g) if fill < 0 else torch.full((n, h, w), int(fill))
        cases.append(((logits, target), kwargs))
    return cases


def _dice_cases() -> list[tuple[tuple, dict]]:
    return _dice_cases_from(
        5,
        [
            ((2, 3, 4, 5), 1, -1, {}),
            ((1, 4, 6, 6), 3, -1, {"smooth": 0.0}),
            ((3, 2, 3, 3), 1, 0, {"smooth": 1.0}),  # class 1 absent from the target: still in the mean
            ((4, 3, 2, 2), 2, -1, {"smooth": 0.5}),  # sums over the batch, not a mean of per-image losses
        ],
    )


def _dice_compare(got: Any, expected: Any) -> None:
    if isinstance(got, torch.Tensor) and got.dim() == 0 and not got.requires_grad:
        raise Mismatch(
            tr(
                "mất mát không còn gradient (đã dùng .item(), numpy hay .detach()?): backward() sẽ không chạy được.",
                "the loss has no gradient any more (.item(), numpy or .detach()?): backward() would not work.",
            )
        )
    if not isinstance(got, torch.Tensor):
        raise Mismatch(
            tr(
                f"cần một tensor 0 chiều (để gọi được backward()), nhận được {type(got).__name__}.",
                f"expected a 0-dimensional tensor (so that backward() works), got {type(got).__name__}.",
            )
        )
    compare(got, expected)


_DICE_HINTS = (
    (
        "xác suất p = softmax theo kênh; nhãn thành one-hot g cùng dạng N x C x H x W; với mỗi lớp, hệ số Dice "
        "= (2·Σ p·g + s) / (Σ p + Σ g + s), tổng trên cả batch và mọi điểm ảnh; mất mát = 1 − trung bình "
        "các lớp; kết quả vẫn là một tensor có gradient.",
        "probabilities p = softmax over the channels; labels as one-hot g of the same N x C x H x W layout; per "
        "class, Dice = (2·Σ p·g + s) / (Σ p + Σ g + s), summed over the whole batch and every pixel; loss = "
        "1 − the mean over classes; the result stays a tensor with a gradient.",
    ),
    (
        "F.one_hot cho N x H x W x C: cần permute(0, 3, 1, 2) và đổi sang số thực; tổng theo dim=(0, 2, 3) cho "
        "một giá trị mỗi lớp; đừng lấy trung bình trên từng ảnh trước, và đừng bỏ lớp vắng mặt.",
        "F.one_hot gives N x H x W x C: permute(0, 3, 1, 2) and convert to float; sum over dim=(0, 2, 3) for one "
        "value per class; do not average per image first, and do not drop absent classes.",
    ),
)


@exercise("03-3", ("hàm mất mát Dice", "Dice loss"), cases=_dice_cases)
def check_dice_loss(learner: Callable[..., Any]) -> CheckResult:
    """``learner(logits, target, smooth=1.0)``: multi-class soft Dice loss (softmax; sums over batch and pixels)."""
    return run_check(
        "03-3",
        learner,
        _dice_cases,
        reference=lambda logits, target, smooth=1.0: dice_loss(logits.detach(), target, smooth=smooth),
        compare_fn=_dice_compare,
        hints=_DICE_HINTS,
    )


# ----------------------------------------------------------------------------- hidden cases (grader)
def _hidden_aspp_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(3003)
    return [
        ((_aspp(5, (1, 3), 6, True, 30), torch.randn(2, 5, 8, 11, generator=g)), {}),
        ((_aspp(3, (4,), 2, False, 31), torch.randn(1, 3, 12, 12, generator=g)), {}),
        ((_aspp(7, (1, 2, 4), 3, True, 32), torch.randn(2, 7, 5, 6, generator=g)), {}),
    ]


def _hidden_pooling_cases() -> list[tuple[tuple, dict]]:
    return _pooling_cases_from(4004, [(1, 6, 2, 5, 9), (4, 3, 5, 4, 4), (2, 2, 3, 2, 7)])


def _hidden_dice_cases() -> list[tuple[tuple, dict]]:
    return _dice_cases_from(
        5005,
        [
            ((3, 4, 5, 3), 2, -1, {}),
            ((2, 5, 4, 4), 1, 2, {"smooth": 0.0}),  # one class only in the target
            ((1, 2, 7, 6), 4, -1, {"smooth": 2.0}),
            ((5, 3, 3, 2), 1, -1, {"smooth": 1.0}),
        ],
    )


def _hidden_dice_call(obj: Any, args: tuple, kwargs: dict) -> Any:
    loss = obj(*args, **kwargs)
    differentiable = isinstance(loss, torch.Tensor) and loss.dim() == 0 and loss.requires_grad
    return [to_plain(loss.detach() if isinstance(loss, torch.Tensor) else loss), bool(differentiable)]


register_hidden(
    "03-1",
    "aspp_forward",
    _hidden_aspp_cases,
    _no_grad_call(lambda aspp, x: aspp(x)),
    call=_hidden_no_grad_call,
    forbidden=("src.aspp.ASPP.forward",),
    hint=_ASPP_HINTS[0],
)
register_hidden(
    "03-2",
    "image_pooling",
    _hidden_pooling_cases,
    _pooling_reference,
    call=_hidden_no_grad_call,
    forbidden=("src.aspp.ASPPPooling",),
    hint=_POOLING_HINTS[0],
)
register_hidden(
    "03-3",
    "dice_loss",
    _hidden_dice_cases,
    lambda logits, target, smooth=1.0: [dice_loss(logits.detach(), target, smooth=smooth), True],
    call=_hidden_dice_call,
    forbidden=("src.losses.dice_loss",),
    hint=_DICE_HINTS[0],
)
