"""Texture-mosaic segmentation data built from photographs bundled in scikit-image (lesson 00).

No download, ever: every texture is a photograph that ships inside the
``scikit-image`` wheel (``brick``, ``grass``, ``gravel``, the ``moon`` surface
and a crop of the ``immunohistochemistry`` slide). The variants:

``mosaic``  each image is a Voronoi mosaic of 3-6 regions, each region a crop of
            one texture; the label is the texture (5 classes).
``shapes``  one darker background texture and 1-3 non-overlapping, brighter
            shapes (circle, square, triangle) filled with other, random
            textures; the label is the *shape*: foreground is visible locally,
            but which shape a pixel belongs to depends on context far beyond
            its neighbourhood (4 classes: background + 3 shapes).
``binary``  the ``mosaic`` layout, labelled 1 where the texture is ``grass``
            and 0 elsewhere (one logit, sigmoid / binary cross-entropy).
``cue``     grey textured discs on a background, whose class (1 or 2) is given
            only by a red or blue square in one corner, the image's only colour:
            a global cue (lessons 03 and 06: image pooling, pyramid pooling, SE).
``outline`` one or two *large* grey textured discs (radius 30-46 % of the side)
            whose class (1 or 2) is written only on their thin outline, a red or
            blue ring: a pixel deep inside a disc needs a receptive field that
            reaches the ring (lesson 01: RF 39 vs 127 at 96 px).
``binary_small``  small grass discs (1-3, radius 6-11 % of the side, a few
            per cent of the pixels) on a mosaic of the other textures, labelled
            1 on grass: the imbalanced binary task of lesson 03's losses.
``thin``    thin bright strokes (1.5-3 px wide at 64 px, class 1) and one large
            bright disc (class 2) on a darker texture: detail thinner than an
            output stride of 8 (lesson 05: RefineNet's 1/4 decoder vs DeepLabV3
            at OS 8).

Splits use disjoint parts of every photograph (rows 0-50 % for train, 50-75 %
for val, 75-100 % for test) and fixed seeds, so the split is honest and the
arrays are the same on every machine. Brightness and contrast are jittered
per region, so the mean grey level does not give the class away.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .i18n import bad_argument, tr

__all__ = [
    "CLASSES",
    "DATA_DIR",
    "MEAN",
    "PALETTES",
    "STD",
    "TEXTURES",
    "VARIANTS",
    "TextureMosaics",
    "cache_dir",
    "dataset_checksum",
    "make_loaders",
    "real_dataset",
]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
VARIANTS = ("mosaic", "shapes", "binary", "cue", "outline", "binary_small", "thin")
SPLITS = {"train": (0.0, 0.5), "val": (0.5, 0.75), "test": (0.75, 1.0)}
DEFAULT_COUNTS = {"train": 320, "val": 64, "test": 64}
SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}
MEAN, STD = 0.45, 0.25  # images are fed to models as (x / 255 - MEAN) / STD
BUILD_VERSION = 2  # bump when the generator changes: old caches are rebuilt


def _gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3:
        image = 0.299 * image[..., 0] + 0.587 * image[..., 1] + 0.114 * image[..., 2]  # no BLAS: same bits everywhere
    if image.max() > 1.5:
        image = image / 255.0
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2  # halve: finer texture at 64 px
    return image[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _texture_sources() -> dict[str, Callable[[], np.ndarray]]:
    from skimage import data as sk

    return {
        "brick": lambda: _gray(sk.brick()),
        "grass": lambda: _gray(sk.grass()),
        "gravel": lambda: _gray(sk.gravel()),
        "moon": lambda: _gray(sk.moon()),
        "cells": lambda: _gray(sk.immunohistochemistry()),
    }


TEXTURES = ("brick", "grass", "gravel", "moon", "cells")
CLASSES = {
    "mosaic": TEXTURES,
    "shapes": ("background", "circle", "square", "triangle"),
    "binary": ("background", "grass"),
    "cue": ("background", "object_red_cue", "object_blue_cue"),
    "outline": ("background", "red_outline", "blue_outline"),
    "binary_small": ("background", "grass"),
    "thin": ("background", "line", "disc"),
}
CLASS_NAMES_VI = {
    "brick": "gạch",
    "grass": "cỏ",
    "gravel": "sỏi",
    "moon": "mặt trăng",
    "cells": "tế bào",
    "background": "nền",
    "circle": "hình tròn",
    "square": "hình vuông",
    "triangle": "tam giác",
    "object_red_cue": "vật (dấu đỏ)",
    "object_blue_cue": "vật (dấu xanh lam)",
    "red_outline": "viền đỏ",
    "blue_outline": "viền xanh lam",
    "line": "nét mảnh",
    "disc": "đĩa",
}
PALETTES = {
    "mosaic": np.array([[215, 48, 39], [102, 189, 99], [253, 174, 97], [116, 173, 209], [171, 91, 192]], np.uint8),
    "shapes": np.array([[60, 60, 60], [230, 85, 13], [49, 130, 189], [116, 196, 118]], np.uint8),
    "binary": np.array([[60, 60, 60], [102, 189, 99]], np.uint8),
    "cue": np.array([[60, 60, 60], [230, 85, 13], [49, 130, 189]], np.uint8),
    "outline": np.array([[60, 60, 60], [230, 85, 13], [49, 130, 189]], np.uint8),
    "binary_small": np.array([[60, 60, 60], [102, 189, 99]], np.uint8),
    "thin": np.array([[60, 60, 60], [230, 85, 13], [49, 130, 189]], np.uint8),
}
#: the ``cue`` variant's two cue colours (RGB in [0, 1]): red -> class 1, blue -> class 2
CUE_COLOURS = np.array([[0.8, 0.15, 0.15], [0.15, 0.15, 0.8]])

_CACHE: dict[str, np.ndarray] = {}


def _load_textures() -> dict[str, np.ndarray]:
    if not _CACHE:
        for name, load in _texture_sources().items():
            _CACHE[name] = load()
    return _CACHE


def _crop(rng: np.random.Generator, texture: np.ndarray, split: str, size: int) -> np.ndarray:
    """A random size x size crop of one split's rows of a texture, flipped / rotated, contrast-jittered."""
    lo, hi = SPLITS[split]
    rows = texture[int(lo * texture.shape[0]) : int(hi * texture.shape[0])]
    if rows.shape[0] < size or rows.shape[1] < size:  # large images: mirror the strip
        rows = np.pad(rows, ((0, max(0, size - rows.shape[0])), (0, max(0, size - rows.shape[1]))), mode="symmetric")
    y = int(rng.integers(0, rows.shape[0] - size + 1))
    x = int(rng.integers(0, rows.shape[1] - size + 1))
    patch = rows[y : y + size, x : x + size]
    patch = np.rot90(patch, int(rng.integers(0, 4)))
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    patch = (patch - patch.mean()) / (patch.std() + 1e-6)
    contrast = rng.uniform(0.12, 0.22)
    brightness = rng.uniform(0.35, 0.65)
    return np.clip(brightness + contrast * patch, 0.0, 1.0)


def _voronoi(rng: np.random.Generator, size: int, regions: int) -> np.ndarray:
    seeds = rng.uniform(0, size, (regions, 2))
    yy, xx = np.mgrid[0:size, 0:size]
    dist = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    return np.argmin(dist, axis=-1)


def _shape_mask(kind: int, size: int, cy: float, cx: float, r: float, angle: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    dy, dx = yy - cy, xx - cx
    if kind == 1:  # circle
        return dy**2 + dx**2 <= r**2
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    if kind == 2:  # square, rotated
        half = r * 0.85
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    # equilateral triangle inscribed in radius 1.15 r, rotated
    inside = np.ones_like(u, dtype=bool)
    for k in range(3):
        a = angle + np.pi / 2 + 2 * np.pi * k / 3
        inside &= (np.cos(a) * dx + np.sin(a) * dy) <= 0.575 * r
    return inside


def _cue_image(
    rng: np.random.Generator, textures: dict[str, np.ndarray], split: str, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """One ``cue`` image (H x W x 3 in [0, 1]): grey discs whose class is told only by a coloured patch in a corner.

    A darker background texture, 1-3 brighter textured discs (all grey), and in
    one random corner a flat red or blue square, the only colour in the image.
    Every disc pixel is labelled 1 when the square is red, 2 when it is blue;
    the square and the rest are background. Locally a disc looks the same under
    either cue: only a global view (image pooling, SE's squeeze) or a receptive
    field that reaches the corner tells the two classes apart.
    """
    background = int(rng.integers(0, len(TEXTURES)))
    gray = 0.6 * _crop(rng, textures[TEXTURES[background]], split, size)
    label = np.zeros((size, size), np.int64)
    cue_kind = int(rng.integers(0, 2))
    side = size // 4
    y0 = 0 if rng.random() < 0.5 else size - side
    x0 = 0 if rng.random() < 0.5 else size - side
    occupied = np.zeros((size, size), bool)
    occupied[max(0, y0 - side // 2) : y0 + side + side // 2, max(0, x0 - side // 2) : x0 + side + side // 2] = True
    for _ in range(int(rng.integers(1, 4))):
        for _attempt in range(20):
            r = rng.uniform(0.1, 0.16) * size
            cy, cx = rng.uniform(r, size - r, 2)
            mask = _shape_mask(1, size, cy, cx, r, 0.0)
            grown = _shape_mask(1, size, cy, cx, r * 1.3, 0.0)
            if not (grown & occupied).any():
                break
        else:
            continue
        fill = int(rng.choice([t for t in range(len(TEXTURES)) if t != background]))
        patch = _crop(rng, textures[TEXTURES[fill]], split, size)
        gray[mask] = 0.4 + 0.6 * patch[mask]
        label[mask] = 1 + cue_kind
        occupied |= grown
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    rgb[y0 : y0 + side, x0 : x0 + side] = CUE_COLOURS[cue_kind]
    return rgb, label


def _outline_image(
    rng: np.random.Generator, textures: dict[str, np.ndarray], split: str, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """One ``outline`` image (H x W x 3 in [0, 1]): large grey discs whose class is written only on a thin ring.

    A darker background texture and one or two large, brighter, textured discs
    (radius 30-46 % of the side for the first, 22-30 % for a second where it
    fits). Each disc has its own class (1 or 2, drawn independently) and a ring
    of width ``max(2, size // 40)`` px on its edge, red for 1 and blue for 2: the
    only colour in the image. Every pixel of the disc, ring included, carries
    the class. The fill texture is drawn independently of the class, so inside
    a disc only a receptive field that reaches the ring (up to a radius away)
    tells the two classes apart (lesson 01).
    """
    background = int(rng.integers(0, len(TEXTURES)))
    gray = 0.6 * _crop(rng, textures[TEXTURES[background]], split, size)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    label = np.zeros((size, size), np.int64)
    occupied = np.zeros((size, size), bool)
    ring = max(2, size // 40)
    for index in range(int(rng.integers(1, 3))):
        low, high = (0.30, 0.46) if index == 0 else (0.22, 0.30)
        for _attempt in range(30):
            r = rng.uniform(low, high) * size
            cy, cx = rng.uniform(r, size - r, 2)
            grown = _shape_mask(1, size, cy, cx, r + 2 * ring, 0.0)
            if not (grown & occupied).any():
                break
        else:
            continue
        mask = _shape_mask(1, size, cy, cx, r, 0.0)
        inner = _shape_mask(1, size, cy, cx, r - ring, 0.0)
        kind = int(rng.integers(0, 2))
        fill = int(rng.choice([t for t in range(len(TEXTURES)) if t != background]))
        patch = _crop(rng, textures[TEXTURES[fill]], split, size)
        rgb[inner] = (0.4 + 0.6 * patch[inner])[:, None]
        rgb[mask & ~inner] = CUE_COLOURS[kind]
        label[mask] = 1 + kind
        occupied |= grown
    return rgb, label


def _binary_small_image(
    rng: np.random.Generator, textures: dict[str, np.ndarray], split: str, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """One ``binary_small`` image: a Voronoi mosaic of the non-grass textures and 1-3 small grass discs (label 1)."""
    others = [t for t in range(len(TEXTURES)) if TEXTURES[t] != "grass"]
    regions = int(rng.integers(3, 7))
    cells = _voronoi(rng, size, regions)
    gray = np.zeros((size, size))
    for region in range(regions):
        patch = _crop(rng, textures[TEXTURES[int(rng.choice(others))]], split, size)
        gray[cells == region] = patch[cells == region]
    label = np.zeros((size, size), np.int64)
    grass = _crop(rng, textures["grass"], split, size)
    for _ in range(int(rng.integers(1, 4))):
        r = rng.uniform(0.06, 0.11) * size
        cy, cx = rng.uniform(r, size - r, 2)
        mask = _shape_mask(1, size, cy, cx, r, 0.0)
        gray[mask] = grass[mask]
        label[mask] = 1
    return gray, label


def _thin_image(
    rng: np.random.Generator, textures: dict[str, np.ndarray], split: str, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """One ``thin`` image (H x W in [0, 1]): thin bright strokes (class 1) and one large bright disc (class 2).

    A darker background texture; 2-4 straight strokes 1.5-3 px wide
    (``size / 64`` times that), each from one random point to another at least
    half the side away; then one disc of radius 14-22 % of the side on top.
    Strokes and disc are filled with the same brighter texture (one of the
    others), so the class is told by the *width* alone, a local cue; what is
    hard is to draw a stroke thinner than the model's output stride (lesson 05:
    a decoder that fuses 1/4-resolution features against a prediction made at
    1/8 and upsampled).
    """
    background = int(rng.integers(0, len(TEXTURES)))
    gray = 0.6 * _crop(rng, textures[TEXTURES[background]], split, size)
    fill = int(rng.choice([t for t in range(len(TEXTURES)) if t != background]))
    bright = 0.4 + 0.6 * _crop(rng, textures[TEXTURES[fill]], split, size)
    label = np.zeros((size, size), np.int64)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    for _ in range(int(rng.integers(2, 5))):
        for _attempt in range(20):
            a, b = rng.uniform(0, size, 2), rng.uniform(0, size, 2)
            if np.hypot(*(b - a)) >= size / 2:
                break
        half = rng.uniform(0.75, 1.5) * size / 64
        d = b - a
        t = np.clip(((yy - a[0]) * d[0] + (xx - a[1]) * d[1]) / (d @ d), 0.0, 1.0)
        stroke = (yy - a[0] - t * d[0]) ** 2 + (xx - a[1] - t * d[1]) ** 2 <= half**2
        label[stroke] = 1
    r = rng.uniform(0.14, 0.22) * size
    cy, cx = rng.uniform(r, size - r, 2)
    label[_shape_mask(1, size, cy, cx, r, 0.0)] = 2
    gray[label > 0] = bright[label > 0]
    return gray, label


def _check_args(variant: str, split: str, size: int, count: int | None) -> None:
    if variant not in VARIANTS:
        raise bad_argument("TextureMosaics", "variant", f"một trong {VARIANTS}", f"one of {VARIANTS}", variant)
    if split not in SPLITS:
        raise bad_argument("TextureMosaics", "split", f"một trong {tuple(SPLITS)}", f"one of {tuple(SPLITS)}", split)
    if isinstance(size, bool) or not isinstance(size, int):
        raise bad_argument("TextureMosaics", "size", "một số nguyên", "an integer", size, TypeError)
    if size < 32 or size > 512:
        raise bad_argument(
            "TextureMosaics",
            "size",
            "một số nguyên từ 32 đến 512 (nhỏ hơn thì các vùng không còn đủ chỗ cho vân)",
            "an integer from 32 to 512 (smaller leaves no room for the regions' texture)",
            size,
        )
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise bad_argument("TextureMosaics", "count", "một số nguyên >= 0", "an integer >= 0", count)


def generate(variant: str, split: str, size: int, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Build ``count`` images (N x H x W x 3 uint8) and masks (N x H x W uint8) deterministically."""
    _check_args(variant, split, size, count)
    textures = _load_textures()
    rng = np.random.default_rng([seed, SPLIT_SEEDS[split], VARIANTS.index(variant), size])
    images = np.zeros((count, size, size, 3), np.uint8)
    masks = np.zeros((count, size, size), np.uint8)
    for i in range(count):
        if variant in ("mosaic", "binary"):
            regions = int(rng.integers(3, 7))
            cells = _voronoi(rng, size, regions)
            classes = rng.integers(0, len(TEXTURES), regions)
            gray = np.zeros((size, size))
            for region in range(regions):
                patch = _crop(rng, textures[TEXTURES[classes[region]]], split, size)
                gray[cells == region] = patch[cells == region]
            label = classes[cells]
            if variant == "binary":
                label = (label == TEXTURES.index("grass")).astype(np.int64)
        elif variant == "cue":
            gray, label = _cue_image(rng, textures, split, size)
        elif variant == "thin":
            gray, label = _thin_image(rng, textures, split, size)
        elif variant == "outline":
            gray, label = _outline_image(rng, textures, split, size)
        elif variant == "binary_small":
            gray, label = _binary_small_image(rng, textures, split, size)
        else:
            background = int(rng.integers(0, len(TEXTURES)))
            # the background is darker and the shapes brighter: foreground vs background is
            # visible locally, so only the shape's *class* needs a wide receptive field
            gray = 0.6 * _crop(rng, textures[TEXTURES[background]], split, size)
            label = np.zeros((size, size), np.int64)
            occupied = np.zeros((size, size), bool)
            for _ in range(int(rng.integers(1, 4))):
                for _attempt in range(20):
                    r = rng.uniform(0.16, 0.24) * size
                    cy, cx = rng.uniform(r, size - r, 2)
                    kind = int(rng.integers(1, 4))
                    mask = _shape_mask(kind, size, cy, cx, r, rng.uniform(0, 2 * np.pi))
                    grown = _shape_mask(1, size, cy, cx, r * 1.25, 0.0)
                    if not (grown & occupied).any():
                        break
                else:
                    continue
                fill = int(rng.choice([t for t in range(len(TEXTURES)) if t != background]))
                patch = _crop(rng, textures[TEXTURES[fill]], split, size)
                gray[mask] = 0.4 + 0.6 * patch[mask]
                label[mask] = kind
                occupied |= grown
        if gray.ndim == 2:
            gray = np.repeat(gray[..., None], 3, axis=-1)
        images[i] = (gray * 255).round().astype(np.uint8)
        masks[i] = label
    return images, masks


def dataset_checksum(images: np.ndarray, masks: np.ndarray) -> str:
    """sha256 of the image and mask arrays (what the checksum test pins)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(masks).tobytes())
    return digest.hexdigest()


def _user_cache_root() -> Path:
    """The per-user cache folder of this OS (XDG on Linux, ~/Library/Caches on macOS, LOCALAPPDATA on Windows)."""
    import os
    import sys

    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "segmentation-course"


def cache_dir() -> Path:
    """Where the built datasets are cached (created on first write).

    1. ``$SRC_DATA_DIR`` when set (any folder you choose);
    2. ``data/cache`` of the clone when ``src`` runs from a clone (``make lab``,
       ``pip install -e .``): next to data/README.md, removed by ``make clean``;
    3. otherwise (``pip install`` of the package, e.g. on Colab) a per-user
       cache folder such as ``~/.cache/segmentation-course``, never inside
       site-packages.
    """
    import os

    chosen = os.environ.get("SRC_DATA_DIR")
    if chosen:
        return Path(chosen).expanduser()
    clone = Path(__file__).resolve().parent.parent
    if (clone / "pyproject.toml").is_file() and (clone / "data" / "README.md").is_file():
        return DATA_DIR / "cache"
    return _user_cache_root()


def _cache_path(variant: str, split: str, size: int, count: int, seed: int) -> Path:
    return cache_dir() / f"v{BUILD_VERSION}_{variant}_{split}_{size}px_{count}_seed{seed}.npz"


def load_arrays(variant: str, split: str, size: int, count: int, seed: int = 0, cache: bool = True):
    """Images and masks from the cache (see :func:`cache_dir`); (re)built when missing or corrupt."""
    path = _cache_path(variant, split, size, count, seed)
    if cache and path.exists():
        try:
            with np.load(path) as stored:
                images, masks, checksum = stored["images"], stored["masks"], str(stored["checksum"])
            if dataset_checksum(images, masks) == checksum:
                return images, masks
        except (OSError, KeyError, ValueError):
            pass
    images, masks = generate(variant, split, size, count, seed)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        import os

        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")  # one per process: parallel builds must not collide
        np.savez_compressed(tmp, images=images, masks=masks, checksum=dataset_checksum(images, masks))
        tmp.replace(path)
    return images, masks


class TextureMosaics(Dataset):
    """A split of one variant of the texture mosaics, as a torch ``Dataset``.

    ``dataset[i]`` is ``(image, mask)``: a float tensor 3 x H x W, normalised
    as ``(x / 255 - MEAN) / STD``, and a long tensor H x W of class indices.
    The raw arrays are in ``.images`` (uint8, N x H x W x 3) and ``.masks``.
    """

    def __init__(
        self,
        variant: str = "mosaic",
        split: str = "train",
        size: int = 64,
        count: int | None = None,
        seed: int = 0,
        cache: bool = True,
    ) -> None:
        _check_args(variant, split, size, count)
        self.variant, self.split, self.size, self.seed = variant, split, size, seed
        self.count = DEFAULT_COUNTS[split] if count is None else count
        self.images, self.masks = load_arrays(variant, split, size, self.count, seed, cache)
        self.classes = CLASSES[variant]
        self.num_classes = len(self.classes)
        self.palette = PALETTES[variant]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = torch.from_numpy(self.images[index]).permute(2, 0, 1).float() / 255.0
        return (image - MEAN) / STD, torch.from_numpy(self.masks[index].astype(np.int64))

    @property
    def class_names(self) -> list[str]:
        """Class names in the current language."""
        return [tr(CLASS_NAMES_VI[c], c) for c in self.classes]

    def __repr__(self) -> str:
        return (
            f"TextureMosaics(variant={self.variant!r}, split={self.split!r}, size={self.size}, "
            f"count={len(self)}, classes={list(self.classes)})"
        )


def make_loaders(
    variant: str = "mosaic",
    size: int = 64,
    batch_size: int = 16,
    train_count: int | None = None,
    val_count: int | None = None,
    seed: int = 0,
) -> tuple[DataLoader, DataLoader]:
    """Train and val loaders (train shuffled with a fixed generator, val in order)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise bad_argument("make_loaders", "batch_size", "một số nguyên >= 1", "an integer >= 1", batch_size)
    train = TextureMosaics(variant, "train", size, train_count, seed)
    val = TextureMosaics(variant, "val", size, val_count, seed)
    generator = torch.Generator().manual_seed(seed)
    return (
        DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator, drop_last=True),
        DataLoader(val, batch_size=max(batch_size, 32), shuffle=False),
    )


def checksums_file() -> Path:
    """The pinned checksums, shipped inside the package (``src/checksums.json``) so an installed ``src`` has them."""
    return Path(__file__).resolve().parent / "checksums.json"


def expected_checksums() -> dict[str, str]:
    """The pinned checksums of the default datasets (src/checksums.json)."""
    return json.loads(checksums_file().read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- real datasets (lesson 07, optional)
def real_dataset(name: str, root, split: str, size: int = 128, download: bool = False, count: int | None = None):
    """Pascal VOC 2012 / Oxford-IIIT Pet in the course's conventions: see :func:`src.real_data.real_dataset`."""
    from .real_data import real_dataset as _real_dataset

    return _real_dataset(name, root, split, size, download, count)


# ----------------------------------------------------------------------------- lesson 01: silhouettes of the shapes
# (moved here from src/receptive_field.py; still importable as src.receptive_field.silhouette_loaders)


def silhouette_loaders(
    size: int = 64, batch_size: int = 16, train_count: int | None = None, val_count: int | None = None
) -> tuple[DataLoader, DataLoader]:
    """Loaders of the ``shapes`` masks drawn as black-and-white silhouettes (lesson 01's experiment).

    The input is 1 inside any shape and 0 elsewhere (3 channels, normalised like
    the images); the target is the shape class. Every pixel inside a shape looks
    the same, so only context -- a receptive field that covers the shape --
    tells a circle from a square or a triangle.
    """
    from torch.utils.data import TensorDataset

    loaders = []
    for split, count in (("train", train_count), ("val", val_count)):
        data = TextureMosaics("shapes", split, size, count)
        masks = torch.from_numpy(data.masks.astype("int64"))
        images = ((masks > 0).float()[:, None].expand(-1, 3, -1, -1) - MEAN) / STD
        dataset = TensorDataset(images.contiguous(), masks)
        dataset.num_classes = data.num_classes  # type: ignore[attr-defined]
        dataset.palette, dataset.class_names = data.palette, data.class_names  # type: ignore[attr-defined]
        dataset.masks = data.masks  # type: ignore[attr-defined]
        dataset.images = ((masks > 0).numpy()[..., None].repeat(3, -1) * 255).astype("uint8")  # type: ignore[attr-defined]
        generator = torch.Generator().manual_seed(0)
        shuffle = split == "train"
        loaders.append(
            DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, drop_last=shuffle)
        )
    return loaders[0], loaders[1]
