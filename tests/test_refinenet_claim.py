"""Lesson 05's claim: the ``thin`` data and the parameter-matched RefineNet / dilated DeepLabV3 pair (src.claims)."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from src import claims, data
from src.aspp import DegenerateASPPWarning


def _erode(mask: np.ndarray, k: int) -> np.ndarray:
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    return (-F.max_pool2d(-t, k, stride=1, padding=k // 2))[0, 0].numpy() > 0.5


def test_thin_strokes_are_thinner_than_the_disc_and_look_alike():
    images, masks = data.generate("thin", "train", 64, 40)
    assert set(np.unique(masks)) == {0, 1, 2}
    lines, discs = masks == 1, masks == 2
    # a 5x5 erosion removes (almost) every stroke pixel (at most 3 px wide) but keeps the discs' interiors
    assert sum(_erode(m, 5).sum() for m in lines) < 0.02 * lines.sum()
    assert sum(_erode(m, 5).sum() for m in discs) > 0.5 * discs.sum()
    # strokes and disc share one brighter texture: the grey level does not tell them apart, width does
    grey = images[..., 0].astype(float)
    assert grey[masks == 0].mean() + 25 < min(grey[lines].mean(), grey[discs].mean())
    assert abs(grey[lines].mean() - grey[discs].mean()) < 15
    # strokes are thin: a few per cent of the pixels, less than the discs
    assert 0.02 < lines.mean() < discs.mean()


def test_thin_is_deterministic_and_scales_with_the_side():
    a, ma = data.generate("thin", "val", 64, 3)
    b, mb = data.generate("thin", "val", 64, 3)
    assert np.array_equal(a, b) and np.array_equal(ma, mb)
    _, big = data.generate("thin", "val", 128, 10)
    _, small = data.generate("thin", "val", 64, 10)
    # strokes are scaled with the side: about the same fraction of the pixels at 64 and 128 px
    assert 0.5 < (big == 1).mean() / (small == 1).mean() < 2.0


def test_budget_is_matched_in_parameters_and_refinenet_is_cheaper_in_flops():
    budget = claims.refinenet_budget()
    dl, rn = budget["DeepLabV3 (OS 8)"], budget["LW-RefineNet"]
    assert abs(rn["params"] - dl["params"]) / dl["params"] < 0.011  # RefineNet 196,589 vs DeepLabV3 198,579
    assert rn["flops"] < 0.6 * dl["flops"]


def test_the_pair_predicts_at_1_8_and_1_4_and_aspp_is_not_degenerate():
    claim = claims.CLAIMS["refinenet_thin"]
    assert claim.variant == "thin" and claim.better == "LW-RefineNet" and claim.worse == "DeepLabV3 (OS 8)"
    x = torch.randn(1, 3, 64, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateASPPWarning)
        dl = claim.groups["DeepLabV3 (OS 8)"](3).eval()
        assert dl(x).shape == (1, 3, 64, 64)
    assert dl.backbone.output_stride == 8
    assert max(claim.extra_config["atrous_rates"]) < claim.extra_config["feature_map"] == 64 // 8
    rn = claim.groups["LW-RefineNet"](3).eval()
    with torch.no_grad():
        maps = rn.cascade(x)
    assert maps["layer4"].shape[-1] == 2  # strided backbone, OS 32
    assert maps["logits"].shape[-1] == 16  # the prediction is made at 1/4


@pytest.mark.parametrize(
    ("kwargs", "argument"), [({"num_classes": 0}, "num_classes"), ({"image_size": 48}, "image_size")]
)
def test_budget_rejects_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        claims.refinenet_budget(**kwargs)


def test_shipped_seed0_models_load_and_match_the_record():
    from src import record, train
    from src.metrics import mean_iou

    models = claims.refinenet_thin_models()
    rec = record.load("refinenet_thin")
    assert set(models) == set(rec.groups)
    val = data.TextureMosaics("thin", "val", 64, rec.config["val_count"])
    images = torch.stack([val[i][0] for i in range(len(val))])
    masks = torch.from_numpy(val.masks.astype(np.int64))
    for group, model in models.items():
        value = mean_iou(train.predict(model, images), masks, val.num_classes)
        assert abs(value - rec.groups[group][0]) < 0.01, (group, value)  # fp16 weights: close, not equal
    assert rec.holds and rec.t >= 2
