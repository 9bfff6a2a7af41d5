"""The explorer's models, photos and caches: networks by name, a trace per (model, input size), click -> unit (lesson 01).

Models: torchvision's ``resnet18``, ``resnet50`` (He et al., arXiv 1512.03385), ``vgg16``
(Simonyan & Zisserman, arXiv 1409.1556), ``densenet121`` (Huang et al., arXiv 1608.06993), all with
random weights (``weights=None``: nothing is downloaded), and the course's ``fcn``, ``deeplabv3``,
``refinenet``. A click on the photo picks the output unit whose RF centre is nearest
(Araujo et al., Distill 2019): ``u = round((p - start) / jump)``, clipped to the output grid.
"""

from __future__ import annotations

import io
import math
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ..i18n import bad_argument
from .report import RFReport, _pair
from .tracer import receptive_fields

__all__ = [
    "MAIN_LAYERS",
    "MODELS",
    "PHOTOS",
    "build_model",
    "clear_trace_cache",
    "has_trained",
    "load_photo",
    "model_layers",
    "trace",
    "trace_cache_info",
    "trained_model",
    "unit_at",
]

TORCHVISION_MODELS = ("resnet18", "resnet50", "vgg16", "densenet121")
COURSE_MODELS = ("fcn", "deeplabv3", "refinenet")
MODELS = TORCHVISION_MODELS + COURSE_MODELS
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")  # RGB photos bundled in scikit-image
_RESNET = ("layer1", "layer2", "layer3", "layer4")
MAIN_LAYERS: dict[str, tuple[str, ...]] = {
    "resnet18": _RESNET,
    "resnet50": _RESNET,
    "vgg16": ("features.4", "features.9", "features.16", "features.23", "features.30"),
    "densenet121": (
        "features.pool0",
        "features.denseblock1",
        "features.denseblock2",
        "features.denseblock3",
        "features.denseblock4",
    ),
}


def _checkpoint(name: str) -> tuple[str, dict[str, Any]] | None:
    """``(file name, entry)`` of the shipped capstone checkpoint of course model ``name`` (without SE), if any."""
    if name not in COURSE_MODELS:
        return None
    from ..compare import available_checkpoints

    for key, entry in available_checkpoints().items():
        if entry.get("arch") == name and not entry.get("se", False):
            return key, entry
    return None


def has_trained(name: str) -> bool:
    """True when a trained checkpoint of course model ``name`` ships with the package (random vs trained ERF)."""
    return isinstance(name, str) and _checkpoint(name) is not None


def _course_model(name: str) -> nn.Module:
    """The encoder (``.backbone``) of course model ``name``: the part the explorer traces.

    Its decoder upsamples to the input's size with ``F.interpolate`` and checks shapes in Python, which
    the fx-based tracer does not follow; the backbone's stages carry the receptive field the decoder reads.
    """
    return _course_full(name).backbone


def _course_full(name: str) -> nn.Module:
    found = _checkpoint(name)
    if found is not None:  # the checkpoint's architecture, random weights: the same network before training
        from ..compare import build_model as build_capstone

        entry = found[1]
        return build_capstone(entry["arch"], entry["num_classes"], entry["se"], entry["output_stride"])
    if name == "fcn":
        from ..models import FCN

        return FCN(num_classes=5)
    if name == "deeplabv3":
        from ..deeplab import DeepLabV3

        return DeepLabV3(num_classes=5, backbone="tiny")
    from ..refinenet import RefineNet

    return RefineNet(num_classes=5, backbone="tiny")


_BUILT: dict[str, nn.Module] = {}


def build_model(name: str) -> nn.Module:
    """The model called ``name`` (one of :data:`MODELS`), random weights, eval mode; built once per process.

    The weights come from a local generator (seed 0): the global RNG is left as it was.
    """
    if not isinstance(name, str):
        raise bad_argument("build_model", "model", "tên một mô hình (chuỗi)", "a model name (string)", name, TypeError)
    if name not in MODELS:
        raise bad_argument(
            "build_model", "model", f"một trong {', '.join(MODELS)}", f"one of {', '.join(MODELS)}", name
        )
    if name not in _BUILT:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            if name in TORCHVISION_MODELS:
                import torchvision.models as tvm

                model = getattr(tvm, name)(weights=None)
            else:
                model = _course_model(name)
        _BUILT[name] = model.eval()
    return _BUILT[name]


def trained_model(name: str) -> nn.Module:
    """Course model ``name``'s encoder with its trained weights (the capstone's seed-0 checkpoint), eval mode.

    The weights are the capstone experiment's (lesson 07, ``src.compare.load_checkpoint``, sha256 checked):
    the explorer shows its ERF beside the random network's (Luo et al., arXiv 1701.04128, compare the
    ERF before and after training). A model without a shipped checkpoint raises a ValueError naming those that have one.
    """
    found = _checkpoint(name) if isinstance(name, str) else None
    if found is None:
        have = [m for m in COURSE_MODELS if _checkpoint(m) is not None]
        raise bad_argument(
            "trained_model", "model", f"một mô hình có trọng số đã huấn luyện: {have}",
            f"a model with trained weights: {have}", name,
        )  # fmt: skip
    key = f"{name}:trained"
    if key not in _BUILT:
        from ..compare import load_checkpoint

        _BUILT[key] = load_checkpoint(found[0]).backbone.eval()  # the traced part, as for the random one
    return _BUILT[key]


def resolve_model(model: str | nn.Module) -> tuple[str, nn.Module]:
    """``(name, module)`` for a model name or an ``nn.Module``."""
    if isinstance(model, nn.Module):
        return type(model).__name__, model
    return model, build_model(model)


# ----------------------------------------------------------------------------- trace cache

_TRACES: weakref.WeakKeyDictionary[nn.Module, dict[tuple[int, int], dict[str, RFReport]]] = weakref.WeakKeyDictionary()
_STATS = {"hits": 0, "misses": 0}


def trace(model: str | nn.Module, input_size: Any) -> dict[str, RFReport]:
    """Every layer's :class:`RFReport` (see :func:`receptive_fields`), traced once per (model, input size)."""
    _, module = resolve_model(model)
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    per_model = _TRACES.setdefault(module, {})
    if size in per_model:
        _STATS["hits"] += 1
    else:
        _STATS["misses"] += 1
        per_model[size] = receptive_fields(module, size)  # type: ignore[arg-type]
    return per_model[size]


def trace_cache_info() -> dict[str, int]:
    """``{"hits", "misses", "entries"}`` of the trace cache."""
    return {**_STATS, "entries": sum(len(v) for v in _TRACES.values())}


def clear_trace_cache() -> None:
    _TRACES.clear()
    _STATS.update(hits=0, misses=0)


def model_layers(model: str | nn.Module, input_size: Any) -> list[str]:
    """The layer names the explorer offers (traced layers with a local spatial output), in run order."""
    return list(trace(model, input_size))


def layer_report(model: str | nn.Module, input_size: Any, layer: str) -> RFReport:
    """The cached report of ``layer``; an unknown name raises a ValueError that lists the valid ones."""
    reports = trace(model, input_size)
    if not isinstance(layer, str) or layer not in reports:
        shown = ", ".join(list(reports)[:40])
        raise bad_argument(
            "explorer", "layer", f"một lớp của mô hình: {shown}", f"a layer of the model: {shown}", layer
        )
    return reports[layer]


def default_layer(name: str, layers: list[str]) -> str:
    main = [m for m in MAIN_LAYERS.get(name, ()) if m in layers]
    if len(main) >= 2:
        return main[-2]  # e.g. layer3: a large RF that still fits the photo
    return layers[len(layers) * 2 // 3] if layers else ""


# ----------------------------------------------------------------------------- click -> unit


def unit_at(report: RFReport, point: tuple[float, float]) -> tuple[int, int]:
    """The output unit whose RF centre is nearest to input pixel ``point = (y, x)``; clipped to the grid.

    ``u = floor((p - start) / jump + 1/2)`` per axis (the same rounding as the exported page's JS).
    """
    h, w = report.input_size
    if (
        not isinstance(point, (tuple, list))
        or len(point) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)
        or not (0 <= point[0] <= h - 1 and 0 <= point[1] <= w - 1)
    ):
        raise bad_argument(
            "unit_at", "point", f"(y, x) trong ảnh {h} x {w}", f"(y, x) inside the {h} x {w} image", point
        )
    start, jump = _pair(report.start), _pair(report.stride)
    unit = []
    for a in range(2):
        n = report.output_size[a]
        u = math.floor((point[a] - start[a]) / jump[a] + 0.5) if math.isfinite(jump[a]) else 0
        unit.append(min(max(u, 0), n - 1))
    return unit[0], unit[1]


# ----------------------------------------------------------------------------- photos


def _resize(photo: np.ndarray, size: Any) -> np.ndarray:
    from skimage.transform import resize

    h, w = photo.shape[:2]
    if isinstance(size, int) and not isinstance(size, bool) and size >= 8:
        scale = size / max(h, w)
        target = (max(8, round(h * scale)), max(8, round(w * scale)))
    elif (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 8 for v in size)
    ):
        target = (size[0], size[1])
    else:
        raise bad_argument(
            "load_photo",
            "size",
            "một số nguyên >= 8 (cạnh dài) hoặc (cao, rộng)",
            "an integer >= 8 (long side) or (height, width)",
            size,
        )
    out = resize(photo, target, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def load_photo(image: Any = "astronaut", size: Any = 224) -> np.ndarray:
    """An RGB photo as an H x W x 3 uint8 array resized so its long side is ``size`` (or to ``(H, W)``).

    ``image``: a name of :data:`PHOTOS` (scikit-image's bundled photos), the bytes of an uploaded
    PNG / JPEG file, or an H x W x 3 array (uint8, or float in [0, 1]). A grey or RGBA array raises.
    """
    if isinstance(image, str):
        if image not in PHOTOS:
            raise bad_argument(
                "load_photo", "image", f"một trong {', '.join(PHOTOS)}", f"one of {', '.join(PHOTOS)}", image
            )
        from skimage import data as skdata

        photo = np.asarray(getattr(skdata, image)())
    elif isinstance(image, (bytes, bytearray, memoryview)):
        from PIL import Image, UnidentifiedImageError

        try:
            photo = np.asarray(Image.open(io.BytesIO(bytes(image))).convert("RGB"))
        except (UnidentifiedImageError, OSError) as exc:
            raise bad_argument(
                "load_photo", "image", "tệp ảnh PNG hoặc JPEG", "a PNG or JPEG file", f"{len(image)} bytes"
            ) from exc
    elif isinstance(image, (np.ndarray, torch.Tensor)):
        photo = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else image
        if photo.ndim != 3 or photo.shape[-1] != 3:
            raise bad_argument("load_photo", "image", "một ảnh RGB H x W x 3", "an RGB H x W x 3 image", image)
        if photo.dtype != np.uint8:
            photo = np.clip(np.asarray(photo, dtype=np.float64) * 255.0, 0, 255).round().astype(np.uint8)
    else:
        raise bad_argument(
            "load_photo",
            "image",
            "tên ảnh, byte của tệp ảnh hoặc mảng H x W x 3",
            "a photo name, image-file bytes or an H x W x 3 array",
            image,
            TypeError,
        )
    if photo.ndim != 3 or photo.shape[-1] != 3:
        raise bad_argument("load_photo", "image", "một ảnh RGB H x W x 3", "an RGB H x W x 3 image", photo)
    return _resize(photo, size)


IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def to_input(photo: np.ndarray) -> torch.Tensor:
    """1 x 3 x H x W float tensor, normalised like torchvision's ImageNet models."""
    x = torch.from_numpy(np.ascontiguousarray(photo)).permute(2, 0, 1)[None].float() / 255.0
    return (x - IMAGENET_MEAN) / IMAGENET_STD


# ----------------------------------------------------------------------------- ERF of one layer's units


class _Stop(Exception):
    def __init__(self, value: torch.Tensor) -> None:
        self.value = value


def layer_erf(
    model: nn.Module, x: torch.Tensor, layer: str, units: list[tuple[int, int]], on_batch: Callable | None = None
) -> torch.Tensor:
    """ERF of each output unit of ``layer`` on input ``x`` (1 x C x H x W): len(units) x H x W, each max 1.

    One batched forward (stopped right after ``layer``) and one backward: unit ``i`` of batch item ``i``
    (Luo et al., arXiv 1701.04128; eval mode, so the batch items do not interact).
    """
    modules = dict(model.named_modules())
    if layer not in modules:
        raise bad_argument(
            "layer_erf", "layer", "tên một mô-đun của mô hình", "the name of a module of the model", layer
        )

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        raise _Stop(output)

    handle = modules[layer].register_forward_hook(hook)
    was_training = model.training
    model.eval()
    batch = x.expand(len(units), -1, -1, -1).clone().requires_grad_(True)
    try:
        model(batch)
        raise RuntimeError(f"layer {layer} did not run")
    except _Stop as stop:
        out = stop.value[0] if isinstance(stop.value, (tuple, list)) else stop.value
    finally:
        handle.remove()
        model.train(was_training)
    index = torch.arange(len(units))
    ys = torch.tensor([u[0] for u in units])
    xs = torch.tensor([u[1] for u in units])
    out[index, :, ys, xs].sum().backward()
    erf = batch.grad.detach().abs().sum(1)
    return erf / erf.flatten(1).max(1).values.clamp_min(1e-30)[:, None, None]
