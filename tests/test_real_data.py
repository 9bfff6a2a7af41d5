"""src.data.real_dataset on small fake Pascal VOC 2012 and Oxford-IIIT Pet folders in the real on-disk layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

import src
from src import data
from src.models import FCN
from src.real_data import VOC_CLASSES, _voc_palette
from src.train import fit


def _photo(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def make_fake_voc(root, names=("2007_000032", "2007_000039", "2007_000063"), split="train"):
    """VOCdevkit/VOC2012 with JPEGImages, palette-PNG SegmentationClass (255 border) and the split list."""
    rng = np.random.default_rng(0)
    base = root / "VOCdevkit" / "VOC2012"
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    labels = {}
    for k, name in enumerate(names):
        h, w = 60 + 4 * k, 80
        _photo(rng, h, w).save(base / "JPEGImages" / f"{name}.jpg")
        label = np.zeros((h, w), np.uint8)
        label[10:40, 20:60] = (k % 20) + 1  # one object ...
        label[9, 20:60] = label[40, 20:60] = 255  # ... with VOC's void border
        png = Image.fromarray(label, mode="P")
        png.putpalette(_voc_palette().flatten().tolist() + [224, 224, 192] * (256 - 21))
        png.save(base / "SegmentationClass" / f"{name}.png")
        labels[name] = label
    (base / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(names) + "\n")
    return labels


def make_fake_pets(root, split="trainval"):
    """oxford-iiit-pet/images, annotations/trimaps (1 pet, 2 background, 3 border) and the split list."""
    rng = np.random.default_rng(1)
    base = root / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True)
    (base / "annotations" / "trimaps").mkdir(parents=True)
    rows = [("Abyssinian_1", 1, 1, 1), ("american_bulldog_10", 2, 2, 1), ("Bengal_3", 6, 1, 2)]  # species 1 cat, 2 dog
    for name, *_ in rows:
        _photo(rng, 50, 70).save(base / "images" / f"{name}.jpg")
        trimap = np.full((50, 70), 2, np.uint8)
        trimap[10:40, 15:55] = 3
        trimap[12:38, 17:53] = 1
        Image.fromarray(trimap).save(base / "annotations" / "trimaps" / f"{name}.png")
    lines = [" ".join(str(v) for v in row) for row in rows]
    (base / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return rows


def test_voc_samples_follow_the_course_conventions(tmp_path):
    make_fake_voc(tmp_path)
    ds = data.real_dataset("voc", tmp_path, "train", size=48)
    assert len(ds) == 3 and ds.num_classes == 21 and ds.classes == VOC_CLASSES
    assert ds.palette.shape == (21, 3) and ds.palette.dtype == np.uint8
    assert tuple(ds.palette[15]) == (192, 128, 128)  # person, as in the VOC devkit's colour map
    image, label = ds[1]
    assert image.shape == (3, 48, 48) and image.dtype == torch.float32
    assert label.shape == (48, 48) and label.dtype == torch.long
    values = set(torch.unique(label).tolist())
    assert values <= {0, 2, 255} and {0, 2} <= values  # background, the object (class 2), maybe the border
    image0, label0 = ds[0]
    assert 1 in set(torch.unique(label0).tolist())
    # the same normalisation as the course's own images
    raw = np.asarray(
        Image.open(tmp_path / "VOCdevkit/VOC2012/JPEGImages/2007_000032.jpg").resize((48, 48), Image.BILINEAR)
    )
    expected = (torch.from_numpy(raw.copy()).permute(2, 0, 1).float() / 255 - data.MEAN) / data.STD
    assert torch.allclose(image0, expected, atol=1e-5)


def test_voc_void_border_becomes_ignore_at_full_size(tmp_path):
    labels = make_fake_voc(tmp_path, names=("a",))
    ds = data.real_dataset("voc", tmp_path, "train", size=64)
    h, w = labels["a"].shape
    assert (h, w) == (60, 80)
    _, label = ds[0]
    assert 255 in set(torch.unique(label).tolist())


def test_pets_labels_background_cat_dog_and_ignore(tmp_path):
    make_fake_pets(tmp_path)
    ds = data.real_dataset("pets", tmp_path, "trainval", size=40)
    assert ds.classes == ("background", "cat", "dog") and ds.num_classes == 3 and len(ds) == 3
    labels = [set(torch.unique(ds[i][1]).tolist()) for i in range(3)]
    assert labels[0] == {0, 1, 255}  # a cat with its border ignored
    assert labels[1] == {0, 2, 255}  # a dog
    assert labels[2] == {0, 1, 255}  # Bengal: a cat again
    src.set_language("vi")
    try:
        assert ds.class_names == ["nền", "mèo", "chó"]
    finally:
        src.set_language("en")
    assert ds.class_names == ["background", "cat", "dog"]


def test_count_keeps_the_first_samples(tmp_path):
    make_fake_pets(tmp_path)
    ds = data.real_dataset("pets", tmp_path, "trainval", size=32, count=2)
    assert len(ds) == 2
    with pytest.raises(IndexError):
        ds[2]


def test_fit_and_a_course_model_take_real_data_unchanged(tmp_path):
    torch.set_num_threads(1)
    make_fake_pets(tmp_path)
    ds = data.real_dataset("pets", tmp_path, "trainval", size=32)
    loader = DataLoader(ds, batch_size=3)
    src.seed_everything(0)
    model = FCN(ds.num_classes)
    history = fit(model, loader, loader, epochs=1, device="cpu", progress_bar=False)
    assert len(history.train_loss) == 1 and np.isfinite(history.train_loss[0])


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_missing_voc_says_what_to_download_and_where(tmp_path, lang):
    src.set_language(lang)
    try:
        with pytest.raises(FileNotFoundError) as err:
            data.real_dataset("voc", tmp_path, "val")
    finally:
        src.set_language("en")
    message = str(err.value)
    assert "VOCtrainval_11-May-2012.tar" in message and str(tmp_path) in message
    assert "download=True" in message
    assert ("Hãy tải" in message) == (lang == "vi")


def test_missing_pets_says_what_to_download_and_where(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"images\.tar\.gz.*annotations\.tar\.gz"):
        data.real_dataset("pets", tmp_path, "test")


def test_incomplete_folders_are_reported(tmp_path):
    make_fake_voc(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"val\.txt"):  # the train list exists, the val list does not
        data.real_dataset("voc", tmp_path, "val")
    (tmp_path / "VOCdevkit/VOC2012/JPEGImages/2007_000039.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"2007_000039\.jpg.*\(1 / 6\)"):
        data.real_dataset("voc", tmp_path, "train")
    pets = tmp_path / "p"
    make_fake_pets(pets)
    (pets / "oxford-iiit-pet/annotations/trimaps/Bengal_3.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"Bengal_3\.png"):
        data.real_dataset("pets", pets, "trainval")


@pytest.mark.parametrize(
    ("kwargs", "error", "argument"),
    [
        ({"name": "coco"}, ValueError, "name"),
        ({"split": "test"}, ValueError, "split"),  # VOC has no public test masks
        ({"size": 16}, ValueError, "size"),
        ({"size": 64.0}, TypeError, "size"),
        ({"root": 3}, TypeError, "root"),
        ({"count": 0}, ValueError, "count"),
        ({"download": "yes"}, TypeError, "download"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path, kwargs, error, argument):
    call = {"name": "voc", "root": tmp_path, "split": "train", "size": 64, **kwargs}
    with pytest.raises(error, match=f"`{argument}`"):
        data.real_dataset(**call)
