"""Real datasets when the user has them: Pascal VOC 2012 and Oxford-IIIT Pet (lesson 07, optional section).

The course never needs them (its own data is built from photographs bundled
with scikit-image, see :mod:`src.data`). When a learner has downloaded one of
them, :func:`real_dataset` reads it through ``torchvision.datasets`` and
returns samples in the course's conventions, so that :func:`src.train.fit`
and every model of the course take them unchanged:

- image: float tensor 3 x size x size, ``(x / 255 - MEAN) / STD`` as in
  :class:`src.data.TextureMosaics`;
- label: long tensor size x size of class indices, 255 = ignore (VOC's void
  border around objects, the Pet trimaps' "not classified" border).

``"voc"``   Pascal VOC 2012 segmentation (Everingham et al., IJCV 2010), 21
            classes (background + 20), splits ``train`` / ``val`` /
            ``trainval``; ``root`` holds ``VOCdevkit/VOC2012/``.
``"pets"``  Oxford-IIIT Pet (Parkhi et al., CVPR 2012), 3 classes
            (background, cat, dog: the trimap's pet pixels get the image's
            species), splits ``trainval`` / ``test``; ``root`` holds
            ``oxford-iiit-pet/``.

Images are resized to a square (bilinear for the image, nearest for the
label), which changes the aspect ratio: enough for the capstone's small
models, not a benchmark protocol.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .i18n import bad_argument, tr
from .losses import IGNORE_INDEX

__all__ = ["REAL_DATASETS", "RealSegmentationDataset", "real_dataset"]

VOC_CLASSES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
VOC_CLASSES_VI = (
    "nền",
    "máy bay",
    "xe đạp",
    "chim",
    "thuyền",
    "chai",
    "xe buýt",
    "ô tô",
    "mèo",
    "ghế",
    "bò",
    "bàn ăn",
    "chó",
    "ngựa",
    "xe máy",
    "người",
    "chậu cây",
    "cừu",
    "ghế sofa",
    "tàu hoả",
    "màn hình",
)
PETS_CLASSES = ("background", "cat", "dog")
PETS_CLASSES_VI = ("nền", "mèo", "chó")


def _voc_palette() -> np.ndarray:
    """The standard VOC colour map (the bit-interleaving rule of the VOC devkit's ``labelcolormap``)."""
    palette = np.zeros((len(VOC_CLASSES), 3), np.uint8)
    for index in range(len(VOC_CLASSES)):
        value, r, g, b = index, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (value & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette[index] = (r, g, b)
    return palette


REAL_DATASETS = {
    "voc": {
        "splits": ("train", "val", "trainval"),
        "folder": "VOCdevkit",
        "classes": VOC_CLASSES,
        "classes_vi": VOC_CLASSES_VI,
        "palette": _voc_palette(),
    },
    "pets": {
        "splits": ("trainval", "test"),
        "folder": "oxford-iiit-pet",
        "classes": PETS_CLASSES,
        "classes_vi": PETS_CLASSES_VI,
        "palette": np.array([[60, 60, 60], [230, 85, 13], [49, 130, 189]], np.uint8),
    },
}


def _required_paths(name: str, root: Path, split: str) -> list[Path]:
    if name == "voc":
        base = root / "VOCdevkit" / "VOC2012"
        return [
            base / "ImageSets" / "Segmentation" / f"{split}.txt",
            base / "JPEGImages",
            base / "SegmentationClass",
        ]
    base = root / "oxford-iiit-pet"
    return [base / "annotations" / f"{split}.txt", base / "annotations" / "trimaps", base / "images"]


def _missing_message(name: str, root: Path, missing: list[Path]) -> str:
    shown = ", ".join(str(p) for p in missing)
    if name == "voc":
        vi = (
            f"real_dataset('voc'): không tìm thấy Pascal VOC 2012 dưới {root} (thiếu: {shown}). "
            "Hãy tải tệp VOCtrainval_11-May-2012.tar (khoảng 2 GB, từ trang Pascal VOC 2012) rồi giải nén vào "
            f"{root}, sao cho có {root / 'VOCdevkit' / 'VOC2012' / 'JPEGImages'}; hoặc gọi với download=True "
            "(torchvision tự tải). Khoá học không bắt buộc bộ dữ liệu này."
        )
        en = (
            f"real_dataset('voc'): Pascal VOC 2012 not found under {root} (missing: {shown}). "
            "Download VOCtrainval_11-May-2012.tar (about 2 GB, from the Pascal VOC 2012 page) and extract it into "
            f"{root}, so that {root / 'VOCdevkit' / 'VOC2012' / 'JPEGImages'} exists; or call with download=True "
            "(torchvision downloads it). The course never requires this dataset."
        )
    else:
        vi = (
            f"real_dataset('pets'): không tìm thấy Oxford-IIIT Pet dưới {root} (thiếu: {shown}). "
            "Hãy tải images.tar.gz và annotations.tar.gz (khoảng 800 MB, từ trang Oxford-IIIT Pet của nhóm VGG) "
            f"rồi giải nén cả hai vào {root / 'oxford-iiit-pet'}, sao cho có "
            f"{root / 'oxford-iiit-pet' / 'annotations' / 'trimaps'}; hoặc gọi với download=True "
            "(torchvision tự tải). Khoá học không bắt buộc bộ dữ liệu này."
        )
        en = (
            f"real_dataset('pets'): Oxford-IIIT Pet not found under {root} (missing: {shown}). "
            "Download images.tar.gz and annotations.tar.gz (about 800 MB, from the VGG group's Oxford-IIIT Pet page) "
            f"and extract both into {root / 'oxford-iiit-pet'}, so that "
            f"{root / 'oxford-iiit-pet' / 'annotations' / 'trimaps'} exists; or call with download=True "
            "(torchvision downloads it). The course never requires this dataset."
        )
    return tr(vi, en)


class RealSegmentationDataset(Dataset):
    """A torchvision segmentation dataset resized to ``size`` and labelled in the course's conventions.

    ``dataset[i]`` is ``(image, label)``: 3 x size x size float (normalised as
    the course's images) and size x size long (255 = ignore). ``.classes``,
    ``.class_names`` (current language), ``.num_classes`` and ``.palette``
    (num_classes x 3 uint8) are as in :class:`src.data.TextureMosaics`.
    """

    def __init__(self, name: str, base: Dataset, size: int, count: int | None = None) -> None:
        info = REAL_DATASETS[name]
        self.name, self.base, self.size = name, base, size
        self.classes = info["classes"]
        self._classes_vi = info["classes_vi"]
        self.num_classes = len(self.classes)
        self.palette = info["palette"]
        self.count = len(base) if count is None else min(count, len(base))
        self._species = getattr(base, "_bin_labels", None)  # pets: 0 cat, 1 dog

    def __len__(self) -> int:
        return self.count

    @property
    def class_names(self) -> list[str]:
        """Class names in the current language."""
        return [tr(vi, en) for vi, en in zip(self._classes_vi, self.classes)]

    def _label(self, target, index: int) -> np.ndarray:
        label = np.asarray(target, dtype=np.int64)
        if self.name == "voc":
            return label  # 0..20, 255 on the void border
        trimap = label  # 1 pet, 2 background, 3 border
        out = np.full(trimap.shape, IGNORE_INDEX, np.int64)
        out[trimap == 2] = 0
        out[trimap == 1] = 1 + int(self._species[index]) if self._species is not None else 1
        return out

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        from PIL import Image

        from .data import MEAN, STD

        if not 0 <= index < self.count:
            raise IndexError(index)
        image, target = self.base[index]
        image = image.convert("RGB").resize((self.size, self.size), Image.BILINEAR)
        label = self._label(target, index)
        label = np.asarray(Image.fromarray(label.astype(np.uint8)).resize((self.size, self.size), Image.NEAREST))
        x = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0
        return (x - MEAN) / STD, torch.from_numpy(label.astype(np.int64))

    def __repr__(self) -> str:
        return f"RealSegmentationDataset(name={self.name!r}, size={self.size}, count={len(self)})"


def real_dataset(
    name: str,
    root: str | Path,
    split: str,
    size: int = 128,
    download: bool = False,
    count: int | None = None,
) -> RealSegmentationDataset:
    """Pascal VOC 2012 (``"voc"``) or Oxford-IIIT Pet (``"pets"``) in the course's conventions (lesson 07).

    ``root`` holds ``VOCdevkit/`` (VOC) or ``oxford-iiit-pet/`` (Pets), as
    ``torchvision.datasets`` lays them out. A missing or incomplete folder
    raises ``FileNotFoundError`` that says what to download and where, unless
    ``download=True`` (then torchvision downloads it; needs the internet).
    ``count`` keeps only the first ``count`` samples (quick experiments).
    """
    if name not in REAL_DATASETS:
        raise bad_argument(
            "real_dataset", "name", f"một trong {tuple(REAL_DATASETS)}", f"one of {tuple(REAL_DATASETS)}", name
        )
    splits = REAL_DATASETS[name]["splits"]
    if split not in splits:
        raise bad_argument(
            "real_dataset", "split", f"một trong {splits} với {name!r}", f"one of {splits} for {name!r}", split
        )
    if not isinstance(root, (str, Path)):
        raise bad_argument(
            "real_dataset", "root", "một đường dẫn (str hoặc Path)", "a path (str or Path)", root, TypeError
        )
    if isinstance(size, bool) or not isinstance(size, int):
        raise bad_argument("real_dataset", "size", "một số nguyên", "an integer", size, TypeError)
    if size < 32 or size > 1024:
        raise bad_argument("real_dataset", "size", "một số nguyên từ 32 đến 1024", "an integer from 32 to 1024", size)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise bad_argument("real_dataset", "count", "None hoặc một số nguyên >= 1", "None or an integer >= 1", count)
    if not isinstance(download, bool):
        raise bad_argument("real_dataset", "download", "True hoặc False", "True or False", download, TypeError)
    root = Path(root).expanduser()
    if not download:
        missing = [p for p in _required_paths(name, root, split) if not p.exists()]
        if missing:
            raise FileNotFoundError(_missing_message(name, root, missing))
    from torchvision import datasets

    if name == "voc":
        base = datasets.VOCSegmentation(str(root), year="2012", image_set=split, download=download)
    else:
        base = datasets.OxfordIIITPet(str(root), split=split, target_types="segmentation", download=download)
    if len(base) == 0:
        raise FileNotFoundError(_missing_message(name, root, [_required_paths(name, root, split)[0]]))
    files = [*base.images, *base.masks] if name == "voc" else [*base._images, *base._segs]
    absent = [Path(f) for f in files if not Path(f).exists()]
    if absent:  # the split lists files that are not there: an incomplete extraction
        raise FileNotFoundError(_missing_message(name, root, absent[:3]) + f" ({len(absent)} / {len(files)})")
    return RealSegmentationDataset(name, base, size, count)
