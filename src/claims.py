"""The experiments behind the lessons' claims: small probe networks, one protocol per claim (lessons 01, 03, 06).

Each claim compares two (or more) networks that differ *only* in the block the
lesson teaches, on data built so that the block can matter
(``src.data``: ``shapes`` for the receptive field, ``cue`` for
global context), at a setting where the block is not degenerate (no atrous rate
>= the feature map's side, see :class:`src.aspp.DegenerateASPPWarning`).

* ``rf_dilation`` (lesson 01; Yu & Koltun, arXiv 1511.07122): the same six 3x3
  layers, with dilation 1 everywhere (RF 39) or (1, 2, 4, 8) in the last four
  (RF 127), on the ``outline`` data at 96 px (large discs whose class is written
  only on their outline): same parameters, only the receptive field differs.
* ``context_cue`` (lesson 03; DeepLabv3 arXiv 1706.05587, PSPNet arXiv
  1612.01105): a small trunk at output stride 4, then nothing, ASPP
  (``src.aspp.ASPP``, rates (2, 4, 6) on the 16x16 map) or pyramid pooling.
* ``se_cue`` (lesson 06; Hu et al., arXiv 1709.01507): the same trunk with or
  without a Squeeze-and-Excitation block (``src.se.SEBlock``) after each conv.

``run(name, seed, scale)`` trains every group of a claim for one seed and
returns ``{group: val mIoU}``; ``experiments/<name>.py`` runs it over >= 5 seeds
and stores the result with :mod:`src.record`; a lesson runs one seed at
``scale < 1`` as its live version (``SRC_FULL=1`` or a GPU: the full protocol).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .i18n import bad_argument

__all__ = ["CLAIMS", "Claim", "ContextProbe", "DilationPair", "full_protocol", "run"]

BN_MOMENTUM = 0.3


def _conv(c_in: int, c_out: int, k: int = 3, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, k, stride, dilation * (k - 1) // 2, dilation, bias=False),
        nn.BatchNorm2d(c_out, momentum=BN_MOMENTUM),
        nn.ReLU(inplace=True),
    ]


class DilationPair(nn.Sequential):
    """Lesson 01's parameter-matched pair: two stride-2 3x3 convs, four 3x3 convs, a 1x1 classifier.

    ``dilated=False``: the four convs have dilation 1 (RF 39 px); ``dilated=True``:
    dilations 1, 2, 4, 8 (RF 127 px). Same layers, same parameter count, same
    output stride 4: only the receptive field differs.
    """

    def __init__(self, num_classes: int, dilated: bool, width: int = 32, in_channels: int = 3) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise bad_argument("DilationPair", "num_classes", "một số nguyên >= 1", "an integer >= 1", num_classes)
        if not isinstance(dilated, bool):
            raise bad_argument("DilationPair", "dilated", "True hoặc False", "True or False", dilated, TypeError)
        layers = _conv(in_channels, width // 2, stride=2) + _conv(width // 2, width, stride=2)
        for i in range(4):
            layers += _conv(width, width, dilation=2**i if dilated else 1)
        layers.append(nn.Conv2d(width, num_classes, 1))
        super().__init__(*layers)
        self.dilated = dilated

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(super().forward(x), size=x.shape[-2:], mode="bilinear", align_corners=False)


CONTEXTS = ("none", "aspp", "aspp_no_pooling", "pyramid_pooling", "se")


class ContextProbe(nn.Module):
    """A small trunk at output stride 4 and one context block, then a 1x1 classifier (lessons 03 and 06).

    Trunk: 3x3 stride 2 (width / 2), 3x3 stride 2, two 3x3 (RF 23 px, a 16x16
    map on a 64-px image). ``context``: ``"none"`` (a 1x1 conv + BN + ReLU),
    ``"aspp"`` / ``"aspp_no_pooling"`` (``src.aspp.ASPP`` at ``atrous_rates``,
    with or without the image-level branch), ``"pyramid_pooling"``
    (``src.pspnet.PyramidPooling``, bins 1, 2, 4) or ``"se"`` (a
    ``src.se.SEBlock`` after each trunk conv, then the 1x1 conv of ``"none"``).
    """

    def __init__(
        self,
        num_classes: int,
        context: str = "none",
        width: int = 32,
        atrous_rates: tuple[int, ...] = (2, 4, 6),
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if context not in CONTEXTS:
            raise bad_argument("ContextProbe", "context", f"một trong {CONTEXTS}", f"one of {CONTEXTS}", context)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise bad_argument("ContextProbe", "num_classes", "một số nguyên >= 1", "an integer >= 1", num_classes)
        self.context = context
        blocks = [_conv(in_channels, width // 2, stride=2), _conv(width // 2, width, stride=2)]
        blocks += [_conv(width, width), _conv(width, width)]
        trunk: list[nn.Module] = []
        for block in blocks:
            trunk += block
            if context == "se":
                from .se import SEBlock

                channels = block[0].out_channels
                trunk.append(SEBlock(channels, max(4, channels // 4)))
        self.trunk = nn.Sequential(*trunk)
        if context in ("aspp", "aspp_no_pooling"):
            from .aspp import ASPP

            self.context_block: nn.Module = ASPP(
                width, atrous_rates, width, image_pooling=context == "aspp", dropout=0.0
            )
        elif context == "pyramid_pooling":
            from .pspnet import PyramidPooling

            pool = PyramidPooling(width, bins=(1, 2, 4))
            self.context_block = nn.Sequential(pool, *_conv(_out_channels(pool, width), width, 1))
        else:
            self.context_block = nn.Sequential(*_conv(width, width, 1))
        self.classifier = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(self.context_block(self.trunk(x)))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


def _out_channels(module: nn.Module, in_channels: int) -> int:
    with torch.no_grad():
        return int(module.eval()(torch.zeros(1, in_channels, 8, 8)).shape[1])


# ----------------------------------------------------------------------------- protocols


@dataclass
class Claim:
    """One lesson claim: who is compared, on what, and the claim's wording (used by experiments/ and src.record)."""

    lesson: str
    claim_vi: str
    claim_en: str
    variant: str
    groups: dict[str, Callable[[int], nn.Module]]
    better: str
    worse: str
    image_size: int = 64
    train_count: int = 256
    val_count: int = 64
    epochs: int = 10
    lr: float = 3e-3
    batch_size: int = 16
    metric: str = "val_miou"
    extra_config: dict[str, Any] = field(default_factory=dict)
    input_fn: str = "images"

    def config(self, scale: float = 1.0) -> dict[str, Any]:
        train_count, epochs = _scaled(self, scale)
        return {
            "variant": self.variant,
            "input": self.input_fn,
            "image_size": self.image_size,
            "train_count": train_count,
            "val_count": self.val_count,
            "epochs": epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "optimizer": "Adam + OneCycle (src.train.fit)",
            "evaluation": "val split, eval mode, after the last epoch",
            **self.extra_config,
        }


def _scaled(claim: Claim, scale: float) -> tuple[int, int]:
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not 0 < scale <= 1:
        raise bad_argument("run", "scale", "một số trong (0, 1]", "a number in (0, 1]", scale)
    train_count = max(claim.batch_size, round(claim.train_count * scale))
    epochs = max(2, round(claim.epochs * (scale**0.5)))
    return train_count, epochs


def _deeplabv3plus_claim(what_vi: str, what_en: str, metric: str = "val_miou") -> Claim:
    """Lesson 08's DeepLabV3 vs DeepLabV3+ claims: the same pair of models and data, scored by ``metric``."""
    return Claim(
        lesson="08",
        claim_vi=(
            "Trên dữ liệu `thin`, cùng mạng xương sống ở OS 16 và cùng ASPP, bộ giải mã của DeepLabV3+ (nối tắt "
            f"`layer1` ở OS 4) cho {what_vi} cao hơn hẳn DeepLabV3."
        ),
        claim_en=(
            "On the `thin` data, with the same backbone at OS 16 and the same ASPP, DeepLabV3+'s decoder (the "
            f"`layer1` skip at OS 4) gives a clearly higher {what_en} than DeepLabV3."
        ),
        variant="thin",
        groups={
            "DeepLabV3": lambda n: _deeplab_pair(n, plus=False),
            "DeepLabV3+": lambda n: _deeplab_pair(n, plus=True),
        },
        better="DeepLabV3+",
        worse="DeepLabV3",
        metric=metric,
        extra_config={
            "output_stride": 16,
            "atrous_rates": [1, 2, 3],
            "feature_map": 4,
            "low_level": {"stage": "layer1", "stride": 4, "channels": 16},
            "model": "src.repvgg_probe.deeplab_pair(n, plus=...): tiny, OS 16, channels=64",
        },
    )


CLAIMS: dict[str, Claim] = {
    "rf_dilation": Claim(
        lesson="01",
        claim_vi=(
            "Cùng sáu tầng tích chập 3x3 và cùng số tham số, trên dữ liệu `outline` (lớp của một hình tròn lớn chỉ "
            "được ghi trên đường viền mảnh của nó), mạng giãn (trường tiếp nhận 127 điểm ảnh) phân vùng tốt hơn mạng "
            "không giãn (trường tiếp nhận 39 điểm ảnh, không với tới viền từ sâu bên trong hình)."
        ),
        claim_en=(
            "With the same six 3x3 conv layers and the same parameters, on the `outline` data (a large disc's class "
            "is written only on its thin outline) the dilated net (receptive field 127 px) segments better than the "
            "undilated one (receptive field 39 px, which cannot reach the outline from deep inside a disc)."
        ),
        variant="outline",
        groups={
            "dilation 1 (RF 39)": lambda n: DilationPair(n, dilated=False),
            "dilation 1-2-4-8 (RF 127)": lambda n: DilationPair(n, dilated=True),
        },
        better="dilation 1-2-4-8 (RF 127)",
        worse="dilation 1 (RF 39)",
        image_size=96,
        train_count=128,
        epochs=8,
        batch_size=8,
        extra_config={
            "output_stride": 4,
            "atrous_rates": None,
            "dilations": {"dilation 1 (RF 39)": [1, 1, 1, 1], "dilation 1-2-4-8 (RF 127)": [1, 2, 4, 8]},
            "feature_map": 24,
            "model": "src.claims.DilationPair(width=32)",
        },
    ),
    "loss_imbalance": Claim(
        lesson="03",
        claim_vi=(
            "Trên dữ liệu `binary_small` (vài hình tròn cỏ nhỏ, chỉ vài phần trăm điểm ảnh là tiền cảnh), cùng một mạng "
            "nhỏ huấn luyện bằng hàm mất mát Dice có IoU tiền cảnh cao hơn khi huấn luyện bằng entropy chéo nhị phân."
        ),
        claim_en=(
            "On the `binary_small` data (a few small grass discs, a few per cent of the pixels are foreground), the "
            "same small network trained with the Dice loss reaches a higher foreground IoU than with binary "
            "cross-entropy."
        ),
        variant="binary_small",
        groups={
            "bce": lambda n: _loss_probe(n, "bce"),
            "dice": lambda n: _loss_probe(n, "dice"),
            "focal": lambda n: _loss_probe(n, "focal"),
        },
        better="dice",
        worse="bce",
        metric="val_foreground_iou",
        extra_config={
            "output_stride": 4,
            "atrous_rates": None,
            "feature_map": 16,
            "losses": {
                "bce": "src.losses.bce_with_logits",
                "dice": "src.losses.dice_loss(smooth=1)",
                "focal": "src.losses.focal_loss(gamma=2, alpha=None)",
            },
            "threshold": "logit > 0",
            "model": "src.loss_probe.LossProbe: src.claims.ContextProbe(1, 'none', width=32), one logit",
        },
    ),
    "context_cue": Claim(
        lesson="03",
        claim_vi=(
            "Trên dữ liệu `cue` (lớp của vật chỉ do một dấu ở góc ảnh quyết định), ASPP có nhánh đặc trưng mức ảnh "
            "tốt hơn hẳn mô hình không có mô-đun ngữ cảnh."
        ),
        claim_en=(
            "On the `cue` data (an object's class is set only by a cue in a corner of the image), ASPP with its "
            "image-level branch clearly beats the model without a context module."
        ),
        variant="cue",
        groups={
            "none": lambda n: ContextProbe(n, "none"),
            "aspp": lambda n: ContextProbe(n, "aspp"),
            "pyramid_pooling": lambda n: ContextProbe(n, "pyramid_pooling"),
        },
        better="aspp",
        worse="none",
        extra_config={
            "output_stride": 4,
            "atrous_rates": [2, 4, 6],
            "feature_map": 16,
            "model": "src.claims.ContextProbe(width=32)",
        },
    ),
    "se_cue": Claim(
        lesson="06",
        claim_vi=(
            "Trên dữ liệu `cue`, thêm khối SE (một phép gộp trung bình toàn cục mỗi tầng) giúp mạng nhỏ đọc được dấu "
            "ở góc ảnh: mIoU cao hơn hẳn cùng mạng không có SE."
        ),
        claim_en=(
            "On the `cue` data, adding SE blocks (one global average pooling per layer) lets the small network read "
            "the cue in the corner: clearly higher mIoU than the same network without SE."
        ),
        variant="cue",
        groups={
            "no SE": lambda n: ContextProbe(n, "none"),
            "SE": lambda n: ContextProbe(n, "se"),
        },
        better="SE",
        worse="no SE",
        extra_config={
            "output_stride": 4,
            "atrous_rates": None,
            "feature_map": 16,
            "model": "src.claims.ContextProbe(width=32, context='se'), SEBlock reduction 4",
        },
    ),
    "refinenet_thin": Claim(
        lesson="05",
        claim_vi=(
            "Trên dữ liệu `thin` (nét mảnh 1,5-3 điểm ảnh và một đĩa lớn), với số tham số như nhau (RefineNet ít hơn 1 %), "
            "Light-Weight RefineNet (dự đoán ở 1/4 nhờ hợp nhất đặc trưng `layer1`) có mIoU cao hơn DeepLabV3 trên "
            "mạng xương sống giãn tới OS 8 (dự đoán ở 1/8 rồi phóng to), và tốn khoảng một nửa số FLOPs."
        ),
        claim_en=(
            "On the `thin` data (strokes 1.5-3 px wide and one large disc), with the same parameter budget (RefineNet "
            "has 1 % fewer), Light-Weight RefineNet (predicting at 1/4 by fusing `layer1` features) reaches a higher mIoU than "
            "DeepLabV3 on a backbone dilated to OS 8 (predicting at 1/8, then upsampling), at about half the FLOPs."
        ),
        variant="thin",
        groups={
            "DeepLabV3 (OS 8)": lambda n: _deeplab_os8(n),
            "LW-RefineNet": lambda n: _lw_refinenet(n),
        },
        better="LW-RefineNet",
        worse="DeepLabV3 (OS 8)",
        extra_config={
            "output_stride": {"DeepLabV3 (OS 8)": 8, "LW-RefineNet": 32},
            "prediction_stride": {"DeepLabV3 (OS 8)": 8, "LW-RefineNet": 4},
            "atrous_rates": [1, 3, 4],
            "feature_map": 8,
            "budget": "matched parameters (see src.claims.refinenet_budget)",
            "model": (
                "src.deeplab.DeepLabV3(n, 'tiny', output_stride=8, atrous_rates=scaled_atrous_rates(8), "
                "channels=32) vs src.refinenet.RefineNet(n, 'tiny', light=True, channels=42)"
            ),
        },
    ),
    "repvgg_se_cue": Claim(
        lesson="08",
        claim_vi=(
            "Trên dữ liệu `cue`, một mạng RepVGG nhỏ có khối SE trong mỗi khối (như biến thể SE của RepVGG) đọc được "
            "dấu ở góc ảnh: mIoU cao hơn hẳn cùng mạng không có SE."
        ),
        claim_en=(
            "On the `cue` data, a small RepVGG with an SE block inside every block (as RepVGG's own SE variant) reads "
            "the cue in the corner: clearly higher mIoU than the same network without SE."
        ),
        variant="cue",
        groups={
            "RepVGG": lambda n: _repvgg_probe(n, se=False),
            "RepVGG + SE": lambda n: _repvgg_probe(n, se=True),
        },
        better="RepVGG + SE",
        worse="RepVGG",
        extra_config={
            "output_stride": 4,
            "atrous_rates": None,
            "feature_map": 16,
            "model": "src.repvgg_probe.RepVGGProbe(width=32, se=...), SE squeeze out_channels // 16",
        },
    ),
    "deeplabv3plus_boundary": _deeplabv3plus_claim("điểm F trên biên", "boundary F", metric="val_boundary_f1"),
    "deeplabv3plus_miou": _deeplabv3plus_claim("mIoU", "mIoU"),
}


def _repvgg_probe(num_classes: int, se: bool) -> nn.Module:
    from .repvgg_probe import RepVGGProbe  # lesson 08

    return RepVGGProbe(num_classes, se=se)


def _deeplab_pair(num_classes: int, plus: bool) -> nn.Module:
    from .repvgg_probe import deeplab_pair  # lesson 08

    return deeplab_pair(num_classes, plus)


def _deeplab_os8(num_classes: int) -> nn.Module:
    """Lesson 05's dilated baseline: DeepLabV3, tiny backbone at OS 8, ASPP rates scaled to the 8x8 map of 64 px."""
    from .aspp import scaled_atrous_rates
    from .deeplab import DeepLabV3

    return DeepLabV3(num_classes, "tiny", output_stride=8, atrous_rates=scaled_atrous_rates(8), channels=32)


def _lw_refinenet(num_classes: int) -> nn.Module:
    """Lesson 05's Light-Weight RefineNet (arXiv 1810.03272), tiny strided backbone, 42 channels (parameter-matched)."""
    from .refinenet import RefineNet

    return RefineNet(num_classes, "tiny", light=True, channels=42)


def refinenet_budget(num_classes: int = 3, image_size: int = 64) -> dict[str, dict[str, int]]:
    """Parameters and forward FLOPs (batch 1, ``src.profiling.count_flops``) of the two ``refinenet_thin`` models."""
    from .profiling import count_flops

    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise bad_argument("refinenet_budget", "num_classes", "một số nguyên >= 1", "an integer >= 1", num_classes)
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 64 or image_size % 32:
        raise bad_argument("refinenet_budget", "image_size", "bội của 32, >= 64", "a multiple of 32, >= 64", image_size)
    x = torch.zeros(1, 3, image_size, image_size)
    out = {}
    for name, build in (("DeepLabV3 (OS 8)", _deeplab_os8), ("LW-RefineNet", _lw_refinenet)):
        model = build(num_classes).eval()
        out[name] = {"params": sum(p.numel() for p in model.parameters()), "flops": int(count_flops(model, x))}
    return out


def _loss_probe(num_classes: int, loss: str) -> nn.Module:
    """Lesson 03's loss comparison (``src.loss_probe.LossProbe``), imported lazily."""
    from .loss_probe import LossProbe

    return LossProbe(num_classes, loss)


def refinenet_thin_models() -> dict[str, nn.Module]:
    """Seed 0's two ``refinenet_thin`` models trained with the recorded protocol (lesson 05's figure), in eval mode.

    Read through the package (``src/results/checkpoints/refinenet_thin_seed0.pt``, fp16
    weights, written by ``experiments/refinenet_thin_checkpoint.py``); the sha256 is checked.
    """
    import hashlib
    import io
    import json
    from importlib import resources

    folder = resources.files("src").joinpath("results", "checkpoints")
    meta = json.loads(folder.joinpath("refinenet_thin_seed0.json").read_text(encoding="utf-8"))
    payload = folder.joinpath(meta["file"]).read_bytes()
    if hashlib.sha256(payload).hexdigest() != meta["sha256"]:
        from .i18n import tr

        raise ValueError(
            tr(
                f"checkpoint {meta['file']} bị hỏng: sha256 không khớp với refinenet_thin_seed0.json",
                f"checkpoint {meta['file']} is corrupt: its sha256 does not match refinenet_thin_seed0.json",
            )
        )
    states = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)["state_dicts"]
    claim = CLAIMS["refinenet_thin"]
    models = {}
    for group, state in states.items():
        model = claim.groups[group](len(_data_classes(claim.variant)))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        models[group] = model.eval()
    return models


def _data_classes(variant: str) -> tuple[str, ...]:
    from .data import CLASSES

    return CLASSES[variant]


def full_protocol() -> bool:
    """True on a GPU or with ``SRC_FULL=1``: lessons then run the recorded protocol instead of the small live one."""
    from . import get_device

    return os.environ.get("SRC_FULL") == "1" or get_device().type == "cuda"


def _loaders(claim: Claim, train_count: int):
    from .data import make_loaders, silhouette_loaders

    if claim.input_fn == "silhouettes":
        return silhouette_loaders(
            claim.image_size, batch_size=claim.batch_size, train_count=train_count, val_count=claim.val_count
        )
    return make_loaders(
        claim.variant, size=claim.image_size, batch_size=claim.batch_size, train_count=train_count,
        val_count=claim.val_count,
    )  # fmt: skip


def run(
    name: str,
    seed: int = 0,
    scale: float = 1.0,
    groups: list[str] | None = None,
    device: torch.device | str | None = None,
    progress_bar: bool = False,
    return_models: bool = False,
) -> dict[str, float] | tuple[dict[str, float], dict[str, nn.Module], Any]:
    """Train every group of claim ``name`` for one ``seed`` (``scale`` < 1: fewer images and epochs); ``{group: metric}``.

    With ``return_models=True`` also the trained models and the validation loader (for a lesson's figure).
    """
    from ._rng import seeded
    from .train import fit

    if name not in CLAIMS:
        raise bad_argument("run", "name", f"một trong {tuple(CLAIMS)}", f"one of {tuple(CLAIMS)}", name)
    claim = CLAIMS[name]
    chosen = list(claim.groups) if groups is None else groups
    unknown = [g for g in chosen if g not in claim.groups]
    if unknown:
        raise bad_argument(
            "run", "groups", f"tên trong {list(claim.groups)}", f"names in {list(claim.groups)}", unknown
        )
    train_count, epochs = _scaled(claim, scale)
    train_loader, val_loader = _loaders(claim, train_count)
    num_classes = train_loader.dataset.num_classes
    results, trained = {}, {}
    for group in chosen:
        with seeded(seed):  # the draws of seed_everything(seed); the caller's random state is restored after
            model = claim.groups[group](num_classes)
            generator = getattr(train_loader, "generator", None)
            if generator is not None:
                generator.manual_seed(seed)  # the data order depends on the seed too
            history = fit(
                model, train_loader, val_loader, epochs=epochs, lr=claim.lr, device=device,
                loss_fn=getattr(model, "loss_fn", None), progress_bar=progress_bar, description=group,
            )  # fmt: skip
        if claim.metric == "val_foreground_iou":  # lesson 03's losses (src.loss_probe)
            from .loss_probe import foreground_iou

            results[group] = float(foreground_iou(model, val_loader))
        else:
            results[group] = float(history.final[claim.metric])
        trained[group] = model
    return (results, trained, val_loader) if return_models else results
