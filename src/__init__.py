"""The shared package of the segmentation course.

Every lesson notebook starts with ``import src`` and ``src.set_language(...)``.
One module per idea: ``data`` (lesson 00), ``metrics``, ``train``, ``viz``,
``receptive_field`` (01), ``dilated`` (02), ``aspp`` / ``deeplab`` /
``pspnet`` / ``losses`` (03), ``crf`` (04), ``refinenet`` (05), ``se`` (06),
``checks`` (exercise checks) and ``grade`` (grading a class). Every
segmentation model is a ``segmodel.SegmentationModel`` built on
``backbones.build_backbone``; ``ablations`` builds lesson 03's model families.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from .i18n import decimal_commas, format_value, get_language, set_language, tr
from .record import format_mean_std, format_number

__all__ = [
    "decimal_commas",
    "format_mean_std",
    "format_number",
    "format_value",
    "get_device",
    "get_language",
    "seed_everything",
    "set_language",
    "tr",
]
__version__ = "0.1.0"


def _available(kind: str) -> bool:
    if kind == "cpu":
        return True
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        backend = getattr(torch.backends, "mps", None)
        return bool(backend is not None and backend.is_available())
    return False


def get_device(name: str | None = None) -> torch.device:
    """The device the course runs on: cuda > mps > cpu.

    ``name`` (or the environment variable ``SRC_DEVICE``) asks for one device
    explicitly; asking for a device this machine does not have raises a clear
    ``RuntimeError`` rather than silently falling back.
    """
    wanted = name if name is not None else os.environ.get("SRC_DEVICE") or None
    if wanted is None:
        for kind in ("cuda", "mps"):
            if _available(kind):
                return torch.device(kind)
        return torch.device("cpu")
    if not isinstance(wanted, str):
        from .i18n import bad_argument

        raise bad_argument("get_device", "name", "một chuỗi như 'cpu'", "a string such as 'cpu'", wanted, TypeError)
    kind = wanted.split(":")[0].strip().lower()
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(
            tr(
                f"get_device: không biết thiết bị {wanted!r}; hãy dùng 'cpu', 'cuda' hoặc 'mps'.",
                f"get_device: unknown device {wanted!r}; use 'cpu', 'cuda' or 'mps'.",
            )
        )
    if not _available(kind):
        source = "SRC_DEVICE" if name is None else "name"
        raise RuntimeError(
            tr(
                f"get_device: đã yêu cầu thiết bị {wanted!r} (qua {source}) nhưng máy này không có; "
                "hãy bỏ SRC_DEVICE hoặc chọn 'cpu'.",
                f"get_device: device {wanted!r} was asked for (via {source}) but this machine has none; "
                "unset SRC_DEVICE or choose 'cpu'.",
            )
        )
    return torch.device(wanted.strip().lower())


def seed_everything(seed: int = 0) -> int:
    """Seed python, numpy and torch; make CPU kernels deterministic. Returns the seed."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        from .i18n import bad_argument

        raise bad_argument("seed_everything", "seed", "một số nguyên >= 0", "an integer >= 0", seed, TypeError)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # warn_only: a few CUDA kernels (e.g. bilinear upsampling backward) have no
    # deterministic version; on CPU every kernel the course uses is deterministic.
    torch.use_deterministic_algorithms(True, warn_only=True)
    if hasattr(torch.backends, "cudnn"):
        torch.backends.cudnn.benchmark = False
    return seed
