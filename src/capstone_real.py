"""Lesson 07's optional section: the capstone's best model on real data, when the learner has it.

Pascal VOC 2012 (Everingham et al., IJCV 2010) or Oxford-IIIT Pet (Parkhi et
al., CVPR 2012) through :func:`src.data.real_dataset`; nothing is downloaded.
The data is looked for under :func:`data_root` (``$SRC_DATA_ROOT``, else a
per-user folder such as ``~/.cache/segmentation-course/real``). An optional
ImageNet-pretrained ResNet-18 backbone (He et al., arXiv 1512.03385) is used
only when torchvision's file is already in the torch cache
(:func:`cached_backbone_weights`); otherwise the backbone starts from random
weights (``weights=None``), as everywhere in the course.

:func:`plan` decides the branch (data present or not, weights present or not)
and says it in the current language; :func:`train_on_real_data` trains and
scores one model. The architecture is the capstone's (``src.compare``) with
the tiny backbone, or with ResNet-18 when pretrained weights are used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from .i18n import bad_argument, tr

__all__ = ["ENV_VAR", "cached_backbone_weights", "data_root", "find_real_data", "plan", "train_on_real_data"]

#: the environment variable naming the folder that holds ``VOCdevkit/`` and / or ``oxford-iiit-pet/``
ENV_VAR = "SRC_DATA_ROOT"
#: the split trained on and the split scored, per dataset
SPLITS = {"pets": ("trainval", "test"), "voc": ("train", "val")}


def data_root() -> Path:
    """``$SRC_DATA_ROOT`` when set, else ``<per-user cache>/real`` (e.g. ``~/.cache/segmentation-course/real``)."""
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        return Path(chosen).expanduser()
    from .data import _user_cache_root

    return _user_cache_root() / "real"


def find_real_data(root: str | Path | None = None) -> str | None:
    """``"pets"`` or ``"voc"`` (Pets first: 3 classes, learnable on a CPU) when both splits are complete under
    ``root`` (default :func:`data_root`), else None."""
    from .real_data import _required_paths

    if root is not None and not isinstance(root, (str, Path)):
        raise bad_argument("find_real_data", "root", "None hoặc một đường dẫn", "None or a path", root, TypeError)
    base = data_root() if root is None else Path(root).expanduser()
    for name, splits in SPLITS.items():
        if all(p.exists() for split in splits for p in _required_paths(name, base, split)):
            return name
    return None


def cached_backbone_weights(cache: str | Path | None = None) -> Path | None:
    """torchvision's ImageNet ResNet-18 file when it is already in the torch cache (``torch.hub.get_dir()``),
    else None. Never downloads."""
    from torchvision.models import ResNet18_Weights

    folder = Path(cache) if cache is not None else Path(torch.hub.get_dir())
    path = folder / "checkpoints" / Path(ResNet18_Weights.IMAGENET1K_V1.url).name
    return path if path.is_file() else None


def plan(root: str | Path | None = None, weights_cache: str | Path | None = None) -> dict[str, Any]:
    """What the optional section will do: ``{"root", "dataset" (or None), "weights" (or None), "message"}``."""
    base = data_root() if root is None else Path(root).expanduser()
    name = find_real_data(base)
    weights = cached_backbone_weights(weights_cache)
    if name is None:
        message = tr(
            f"Không có dữ liệu thật dưới {base}: mục này được bỏ qua. Để chạy nó, tải Oxford-IIIT Pet "
            f"(giải nén vào {base / 'oxford-iiit-pet'}) hoặc Pascal VOC 2012 (giải nén vào {base / 'VOCdevkit'}), "
            f"hoặc đặt biến môi trường {ENV_VAR} trỏ tới thư mục chứa chúng, rồi chạy lại ô này.",
            f"No real data under {base}: this section is skipped. To run it, download Oxford-IIIT Pet (extract it "
            f"into {base / 'oxford-iiit-pet'}) or Pascal VOC 2012 (extract it into {base / 'VOCdevkit'}), or set "
            f"the environment variable {ENV_VAR} to the folder that holds them, and rerun this cell.",
        )
    else:
        backbone = (
            tr(f"ResNet-18 huấn luyện sẵn trên ImageNet ({weights})", f"ResNet-18 pretrained on ImageNet ({weights})")
            if weights
            else tr(
                "mạng xương sống khởi tạo ngẫu nhiên (không có trọng số huấn luyện sẵn trong bộ nhớ đệm của torch)",
                "a randomly initialised backbone (no pretrained weights in the torch cache)",
            )
        )
        message = tr(f"Tìm thấy {name} dưới {base}; dùng {backbone}.", f"Found {name} under {base}; using {backbone}.")
    return {"root": base, "dataset": name, "weights": weights, "message": message}


def _pretrained_model(arch: str, num_classes: int, weights: Path) -> nn.Module:
    """The capstone architecture ``arch`` on a ResNet-18 backbone loaded from ``weights`` (fc dropped)."""
    from .backbones import build_backbone
    from .deeplab import DeepLabV3, DeepLabV3Plus
    from .models import FCN
    from .pspnet import PSPNet
    from .refinenet import RefineNet

    output_stride = 32 if arch == "refinenet" else 8
    backbone = build_backbone("resnet18", output_stride=output_stride)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    backbone.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")}, strict=True)
    builders = {
        "fcn": lambda: FCN(num_classes, backbone, channels=64),
        "deeplabv3": lambda: DeepLabV3(num_classes, backbone, atrous_rates=(2, 4, 6), channels=64),
        "pspnet": lambda: PSPNet(num_classes, backbone, channels=64),
        "refinenet": lambda: RefineNet(num_classes, backbone, light=True, channels=64),
        "deeplabv3plus": lambda: DeepLabV3Plus(num_classes, backbone, atrous_rates=(2, 4, 6), channels=64),
    }
    return builders.get(arch, builders["fcn"])()


def train_on_real_data(
    name: str,
    root: str | Path,
    arch: str,
    size: int = 128,
    train_count: int = 256,
    val_count: int = 64,
    epochs: int = 3,
    weights: str | Path | None = None,
    device: torch.device | str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the capstone's ``arch`` on ``name`` (``"pets"`` / ``"voc"``) at ``size`` px; score it on the other split.

    Returns ``{"miou", "boundary_f1", "history", "model", "pretrained"}``. ``weights``: a torchvision ResNet-18
    file (:func:`cached_backbone_weights`) for a pretrained backbone; None: the capstone's tiny backbone.
    Pixels labelled 255 (VOC's void border, the Pet trimaps' border) are ignored by the loss and the metrics.
    """
    from torch.utils.data import DataLoader

    from . import compare, data, train
    from ._rng import seeded

    if name not in SPLITS:
        raise bad_argument("train_on_real_data", "name", f"một trong {tuple(SPLITS)}", f"one of {tuple(SPLITS)}", name)
    if arch not in compare.architectures():
        raise bad_argument("train_on_real_data", "arch", f"một trong {tuple(compare.architectures())}",
                           f"one of {tuple(compare.architectures())}", arch)  # fmt: skip
    train_split, val_split = SPLITS[name]
    train_set = data.real_dataset(name, root, train_split, size, count=train_count)
    val_set = data.real_dataset(name, root, val_split, size, count=val_count)
    with seeded(seed):
        if weights is not None:
            model = _pretrained_model(arch, train_set.num_classes, Path(weights))
        else:
            model = compare.build_model(arch, train_set.num_classes)
        generator = torch.Generator().manual_seed(seed)
        train_loader = DataLoader(train_set, batch_size=8, shuffle=True, generator=generator, drop_last=False)
        val_loader = DataLoader(val_set, batch_size=16)
        history = train.fit(model, train_loader, val_loader, epochs, 1e-3 if weights else 3e-3, device=device,
                            num_classes=train_set.num_classes, progress_bar=False, description=arch)  # fmt: skip
    return {
        "miou": float(history.final["val_miou"]),
        "boundary_f1": float(history.final["val_boundary_f1"]),
        "history": history,
        "model": model.eval(),
        "pretrained": weights is not None,
    }
