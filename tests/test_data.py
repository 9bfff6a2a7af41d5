import numpy as np
import pytest
import torch

from src import data


@pytest.mark.parametrize("key", sorted(data.expected_checksums()))
def test_default_datasets_match_their_pinned_checksums(key):
    variant, split, size, count, seed = key.split("/")
    images, masks = data.generate(variant, split, int(size[:-2]), int(count), int(seed[4:]))
    assert data.dataset_checksum(images, masks) == data.expected_checksums()[key]


def test_cache_is_rebuilt_when_corrupt(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    images, masks = data.load_arrays("mosaic", "val", 32, 4)
    path = next((tmp_path / "cache").glob("*.npz"))
    path.write_bytes(b"not a zip file")
    again, again_masks = data.load_arrays("mosaic", "val", 32, 4)
    assert np.array_equal(images, again) and np.array_equal(masks, again_masks)
    with np.load(path) as stored:  # rewritten, valid
        assert data.dataset_checksum(stored["images"], stored["masks"]) == str(stored["checksum"])


@pytest.mark.parametrize("variant", data.VARIANTS)
def test_dataset_items(variant):
    ds = data.TextureMosaics(variant, "val", size=48, count=6, cache=False)
    image, mask = ds[0]
    assert image.shape == (3, 48, 48) and image.dtype == torch.float32
    assert mask.shape == (48, 48) and mask.dtype == torch.long
    assert 0 <= int(mask.min()) and int(mask.max()) < ds.num_classes
    assert len(ds.palette) == ds.num_classes == len(ds.class_names)
    assert ds.images.dtype == np.uint8 and ds.images.shape == (6, 48, 48, 3)


def test_splits_differ_and_are_deterministic():
    a, _ = data.generate("mosaic", "train", 32, 3)
    b, _ = data.generate("mosaic", "train", 32, 3)
    c, _ = data.generate("mosaic", "val", 32, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_every_class_occurs():
    for variant in data.VARIANTS:
        _, masks = data.generate(variant, "train", 64, 40)
        assert set(np.unique(masks)) == set(range(len(data.CLASSES[variant])))


def test_shapes_are_labelled_by_shape_not_texture():
    images, masks = data.generate("shapes", "train", 64, 60)
    for kind in (1, 2, 3):
        assert (masks == kind).any()
    means = [images[..., 0][masks == k].mean() for k in range(4)]
    # shapes are brighter than the background (foreground is visible locally) ...
    assert means[0] + 40 < min(means[1:])
    # ... but the grey level does not tell one shape from another: that needs context
    assert max(means[1:]) - min(means[1:]) < 10


def test_binary_is_the_grass_class_of_the_mosaic_layout():
    _, masks = data.generate("binary", "train", 64, 20)
    assert set(np.unique(masks)) <= {0, 1}
    assert 0.05 < masks.mean() < 0.5  # foreground is the minority (imbalance for Dice / focal)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"variant": "nope"}, "variant"),
        ({"split": "dev"}, "split"),
        ({"size": 8}, "size"),
        ({"count": -1}, "count"),
    ],
)
def test_bad_parameters_are_clear_errors(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        data.TextureMosaics(**kwargs)


def test_bad_parameters_in_vietnamese():
    import src

    src.set_language("vi")
    with pytest.raises(ValueError, match="nhận được"):
        data.TextureMosaics(size=8)


def test_make_loaders():
    train, val = data.make_loaders("mosaic", size=32, batch_size=4, train_count=8, val_count=4)
    images, masks = next(iter(train))
    assert images.shape == (4, 3, 32, 32) and masks.shape == (4, 32, 32)
    assert len(val.dataset) == 4
    with pytest.raises(ValueError, match="batch_size"):
        data.make_loaders(batch_size=0)


def test_cue_objects_are_labelled_by_the_corner_cue_only():
    images, masks = data.generate("cue", "train", 64, 80)
    side = 64 // 4
    colour = images.astype(int)[..., 0] - images.astype(int)[..., 2]  # red minus blue; 0 on grey pixels
    for mask, rb in zip(masks, colour):
        classes = set(np.unique(mask)) - {0}
        assert len(classes) == 1  # every object of one image has the same class ...
        coloured = np.argwhere(rb != 0)
        # ... given by the one coloured square, in a corner: red -> 1, blue -> 2
        assert len(coloured) == side * side
        (y0, x0), (y1, x1) = coloured.min(0), coloured.max(0)
        assert y1 - y0 == x1 - x0 == side - 1 and y0 in (0, 64 - side) and x0 in (0, 64 - side)
        assert classes == {1 if rb[y0, x0] > 0 else 2}
        assert (mask[y0 : y1 + 1, x0 : x1 + 1] == 0).all()  # the cue itself is background
    # the objects are grey and look alike under both cues: their grey level does not give the class away
    assert (colour[masks > 0] == 0).all()
    means = [images[..., 0][masks == k].mean() for k in (1, 2)]
    assert abs(means[0] - means[1]) < 10
    assert 0.03 < (masks > 0).mean() < 0.3 and set(np.unique(masks)) == {0, 1, 2}


def test_error_overlay_colour_is_no_class_colour():
    """viz's error overlay must not be mistaken for a class (it used to equal brick's red)."""
    from src.viz import ERROR_COLOUR

    error = np.array(ERROR_COLOUR, dtype=float)
    for variant, palette in data.PALETTES.items():
        distances = np.linalg.norm(palette.astype(float) - error, axis=1)
        assert distances.min() > 80, (variant, palette[distances.argmin()])
