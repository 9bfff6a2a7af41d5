"""Lesson 07's optional real-data section: the branch logic (data present or not, weights cached or not)."""

import pytest
import torch
from test_real_data import make_fake_pets, make_fake_voc

from src import capstone_real


def test_no_data_says_so_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv(capstone_real.ENV_VAR, str(tmp_path))
    assert capstone_real.data_root() == tmp_path
    result = capstone_real.plan(weights_cache=tmp_path / "torch")
    assert result["dataset"] is None and result["weights"] is None
    assert str(tmp_path / "oxford-iiit-pet") in result["message"] and capstone_real.ENV_VAR in result["message"]


def test_default_root_is_a_per_user_folder(monkeypatch):
    monkeypatch.delenv(capstone_real.ENV_VAR, raising=False)
    root = capstone_real.data_root()
    assert root.name == "real" and "site-packages" not in str(root)


def test_pets_or_voc_found_only_when_both_splits_are_complete(tmp_path):
    make_fake_pets(tmp_path, "trainval")
    assert capstone_real.find_real_data(tmp_path) is None  # the test split is missing
    assert capstone_real.find_real_data(tmp_path / "nowhere") is None
    (tmp_path / "oxford-iiit-pet" / "annotations" / "test.txt").write_text(
        (tmp_path / "oxford-iiit-pet" / "annotations" / "trainval.txt").read_text()
    )
    assert capstone_real.find_real_data(tmp_path) == "pets"
    voc = tmp_path / "voc"
    make_fake_voc(voc, split="train")
    assert capstone_real.find_real_data(voc) is None
    make_fake_voc(voc, split="val")
    assert capstone_real.find_real_data(voc) == "voc"
    with pytest.raises(TypeError, match="root"):
        capstone_real.find_real_data(3)


def test_weights_are_used_only_when_already_cached(tmp_path):
    assert capstone_real.cached_backbone_weights(tmp_path) is None
    import torchvision

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    path = folder / "resnet18-f37072fd.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    assert capstone_real.cached_backbone_weights(tmp_path) == path
    model = capstone_real._pretrained_model("deeplabv3", 3, path)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 3, 64, 64)
    with torch.no_grad():
        reference = torchvision.models.resnet18(weights=None)
        reference.load_state_dict(torch.load(path, weights_only=True))
        assert torch.equal(model.backbone.conv1.weight, reference.conv1.weight)  # the cached weights, loaded


def test_train_on_fake_pets(tmp_path):
    make_fake_pets(tmp_path, "trainval")
    (tmp_path / "oxford-iiit-pet" / "annotations" / "test.txt").write_text(
        (tmp_path / "oxford-iiit-pet" / "annotations" / "trainval.txt").read_text()
    )
    result = capstone_real.train_on_real_data("pets", tmp_path, "fcn", size=64, epochs=1, device="cpu")
    assert 0 <= result["miou"] <= 1 and not result["model"].training and not result["pretrained"]
    with pytest.raises(ValueError, match="arch"):
        capstone_real.train_on_real_data("pets", tmp_path, "unet")
    with pytest.raises(ValueError, match="name"):
        capstone_real.train_on_real_data("coco", tmp_path, "fcn")
