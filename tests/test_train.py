import pytest
import torch

from src import data, models, train


def test_fcn_learns_the_mosaics_and_history_is_complete():
    tl, vl = data.make_loaders("mosaic", size=64, batch_size=16, train_count=128, val_count=32)
    model = models.FCN(5, output_stride=8)
    before = train.evaluate(model, vl)
    history = train.fit(model, tl, vl, epochs=3, lr=3e-3, progress_bar=False)
    assert len(history.train_loss) == len(history.val_miou) == 3
    assert history.train_loss[-1] < history.train_loss[0]
    assert set(history.final) == {"train_loss", "val_loss", "val_miou", "val_pixel_accuracy", "val_boundary_f1"}
    assert history.final["val_loss"] < before["loss"]
    assert history.final["val_miou"] > before["miou"]


def test_binary_models_use_bce():
    tl, vl = data.make_loaders("binary", size=32, batch_size=8, train_count=16, val_count=8)
    model = models.FCN(1)
    history = train.fit(model, tl, vl, epochs=1, progress_bar=False, num_classes=2)
    assert 0 <= history.final["val_miou"] <= 1
    preds = train.predict(model, next(iter(vl))[0])
    assert set(preds.unique().tolist()) <= {0, 1}


def test_evaluation_is_in_eval_mode_and_restores_training_mode():
    _, vl = data.make_loaders("mosaic", size=32, batch_size=8, train_count=8, val_count=8)
    model = models.FCN(5).train()
    a = train.evaluate(model, vl)
    b = train.evaluate(model, vl)
    assert a == b and model.training


class _Exploding(torch.nn.Module):
    """A model whose forward raises (a learner's bug, a bad batch): the caller's mode must survive it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 1)

    def forward(self, x):
        raise RuntimeError("boom")


@pytest.mark.parametrize("training", [True, False])
def test_predict_and_evaluate_restore_the_mode_when_the_forward_raises(training):
    _, vl = data.make_loaders("mosaic", size=32, batch_size=8, train_count=8, val_count=8)
    model = _Exploding().train(training)
    with pytest.raises(RuntimeError, match="boom"):
        train.predict(model, torch.randn(1, 3, 8, 8))
    assert model.training is training
    with pytest.raises(RuntimeError, match="boom"):
        train.evaluate(model, vl, num_classes=2)
    assert model.training is training


def test_predict_keeps_an_eval_model_in_eval_mode():
    model = models.FCN(5).eval()
    train.predict(model, torch.randn(1, 3, 32, 32))
    assert not model.training


def test_evaluate_refuses_an_empty_loader():
    model = models.FCN(5).train()
    with pytest.raises(ValueError, match="loader"):
        train.evaluate(model, [], num_classes=5)
    assert model.training


def test_checkpoint_round_trip(tmp_path):
    model = models.FCN(5)
    path = train.save_checkpoint(model, tmp_path / "m.pt", epochs=3, note="x")
    other = models.FCN(5)
    meta = train.load_checkpoint(other, path)
    assert meta == {"epochs": 3, "note": "x"}
    for p, q in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="path"):
        train.load_checkpoint(other, tmp_path / "missing.pt")


def test_bad_arguments():
    tl, vl = data.make_loaders("mosaic", size=32, batch_size=8, train_count=8, val_count=8)
    with pytest.raises(ValueError, match="epochs"):
        train.fit(models.FCN(5), tl, vl, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        train.fit(models.FCN(5), tl, vl, lr=-1.0)
    with pytest.raises(ValueError, match="num_classes"):
        models.FCN(0)
    with pytest.raises(ValueError, match="output_stride"):
        models.TinyBackbone(output_stride=4)


@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_tiny_backbone_output_stride(output_stride):
    features = models.TinyBackbone(output_stride=output_stride)(torch.randn(1, 3, 64, 64))
    assert features["layer4"].shape[-1] == 64 // output_stride
    assert features["layer1"].shape[-1] == 16
