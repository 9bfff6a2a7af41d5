import warnings

import pytest
import torch

from src import compare
from src.aspp import DegenerateASPPWarning


@pytest.mark.parametrize("arch", compare.ARCHITECTURES)
def test_every_architecture_with_and_without_se(arch):
    warnings.simplefilter("error", DegenerateASPPWarning)  # the capstone's rates fit the 8x8 map
    plain = compare.build_model(arch, 5, se=False)
    with_se = compare.build_model(arch, 5, se=True)
    x = torch.randn(2, 3, 64, 64)  # the 8x8 map at OS 8 that lesson 07 uses: rates (2, 4, 6) are not degenerate
    assert plain(x).shape == with_se(x).shape == (2, 5, 64, 64)
    extra = sum(p.numel() for p in with_se.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra > 0  # SE adds parameters
    assert any(type(m).__name__ == "SEBlock" for m in with_se.modules())


def test_compare_measures_every_row():
    rows = compare.compare(
        size=32, epochs=1, train_count=16, val_count=4, archs=("fcn", "pspnet"), se_options=(False,), progress_bar=False
    )
    assert [r.model for r in rows] == ["FCN", "PSPNet"]
    for r in rows:
        assert 0 <= r.miou <= 1 and 0 <= r.miou_crf <= 1 and 0 <= r.boundary_f1 <= 1
        assert r.params > 0 and r.mflops > 0 and r.latency_ms > 0 and r.peak_memory_mib > 0
        assert int(r.confusion.sum()) == 4 * 32 * 32
    table = compare.as_table(rows)
    assert list(table["model"]) == ["FCN", "PSPNet"] and "confusion" not in table


def test_best_under_budget():
    rows = [
        {"model": "A", "se": False, "miou": 0.5, "latency_ms": 1.0},
        {"model": "B", "se": True, "miou": 0.7, "latency_ms": 3.0},
        {"model": "C", "se": False, "miou": 0.7, "latency_ms": 2.0},
    ]
    assert compare.best_under_budget(rows, 0.5) is None
    assert compare.best_under_budget(rows, 1.5) == "A"
    assert compare.best_under_budget(rows, 10) == "C"  # tie on mIoU: the faster one
    assert compare.best_under_budget(rows[:2], 10) == "B + SE"
    with pytest.raises(ValueError, match="latency_budget_ms"):
        compare.best_under_budget(rows, 0)


def test_most_confused():
    cm = torch.tensor([[50, 2, 1], [10, 20, 15], [0, 3, 40]])
    assert compare.most_confused(cm) == (1, 2)
    with pytest.raises(ValueError, match="cm"):
        compare.most_confused(torch.zeros(2, 3))
    assert compare.most_confused(torch.tensor([[3, 0], [0, 0]])) == (0, 1)  # an absent class is never the worst


def test_unknown_architecture():
    with pytest.raises(ValueError, match="arch"):
        compare.build_model("unet", 5)


def test_the_capstone_table_is_filled_by_the_model_modules():
    from src import registry

    entries = compare.architectures()
    assert list(entries) == ["fcn", "deeplabv3", "pspnet", "refinenet", "deeplabv3plus", "repvgg"]  # lesson order
    assert {e.build.__module__ for e in entries.values()} == {
        "src.models",
        "src.deeplab",
        "src.pspnet",
        "src.refinenet",
        "src.repvgg",
    }
    assert compare.NAMES["deeplabv3"] == "DeepLabV3 (ASPP)" and compare.ARCHITECTURES == tuple(entries)
    with pytest.raises(ValueError, match="key"):
        registry.register_capstone("Bad Key", "x", "07")
    with pytest.raises(ValueError, match="lesson"):
        registry.register_capstone("ok", "x", "7")
