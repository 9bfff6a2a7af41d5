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


def test_noise_rank_shares_rank_one_within_the_noise():
    groups = {
        "best": [0.80, 0.82, 0.81, 0.79, 0.80],
        "tied": [0.79, 0.83, 0.78, 0.81, 0.80],  # within the noise of "best": rank 1 too
        "worst": [0.50, 0.52, 0.51, 0.49, 0.50],  # beaten by both: rank 3
    }
    assert compare.noise_rank(groups) == {"best": 1, "tied": 1, "worst": 3}
    assert compare.noise_rank({"a": [0.5, 0.5], "b": [0.5, 0.5]}) == {"a": 1, "b": 1}  # identical: no order
    with pytest.raises(ValueError, match="groups"):
        compare.noise_rank({"only": [0.1, 0.2]})
    with pytest.raises(ValueError, match="threshold"):
        compare.noise_rank(groups, threshold=0)
    with pytest.raises(ValueError, match="at least 2"):  # one seed is not a spread
        compare.noise_rank({"a": [0.1], "b": [0.2, 0.3]})


def test_checkpoint_round_trip_is_fp16_and_checksummed(tmp_path):
    model = compare.build_model("fcn", 5).eval()
    path = compare.save_checkpoint(model, "fcn", "fcn", 5, folder=tmp_path, seed=0)
    assert path.stat().st_size < 2**20  # fp16: well under a megabyte
    loaded = compare.load_checkpoint("fcn", tmp_path)
    assert not loaded.training
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        # the same weights up to fp16 rounding
        assert torch.allclose(loaded(x), model(x), atol=5e-2)
        assert not torch.equal(loaded(x), compare.build_model("fcn", 5).eval()(x))
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        compare.load_checkpoint("fcn", tmp_path)
    with pytest.raises(ValueError, match="name"):
        compare.load_checkpoint("unet", tmp_path)
    with pytest.raises(ValueError, match="arch"):
        compare.save_checkpoint(model, "x", "unet", 5, folder=tmp_path)
    with pytest.raises(TypeError, match="model"):
        compare.save_checkpoint("not a model", "x", "fcn", 5, folder=tmp_path)


def test_shipped_checkpoints_load_and_match_their_record():
    shipped = compare.available_checkpoints()
    if not shipped:
        pytest.skip("no checkpoints recorded yet (run experiments/capstone.py)")
    assert {"fcn", "deeplabv3", "refinenet"} <= set(shipped)  # the ones the RF explorer uses (issue 15)
    from src import data

    val = data.TextureMosaics("mosaic", "val", 64, 16)
    x = torch.stack([val[i][0] for i in range(len(val))])
    for name, entry in shipped.items():
        assert entry["bytes"] < 4 * 2**20
        model = compare.load_checkpoint(name)
        assert not model.training
        with torch.no_grad():
            accuracy = (model(x).argmax(1) == torch.from_numpy(val.masks).long()).float().mean()
        assert accuracy > 1 / 5 + 0.1  # trained: clearly above chance (5 classes)


def _record():
    from src import record

    if "capstone" not in record.available():
        pytest.skip("capstone not recorded yet (run experiments/capstone.py)")
    return record.load("capstone")


def test_the_record_covers_every_model_over_five_seeds():
    rec = _record()
    labels = [compare.row_label(name, False) for name in compare.NAMES.values()]
    assert set(labels) <= set(rec.groups)
    assert all(len(v) >= 5 for v in rec.groups.values())
    assert rec.config["feature_map"] > max(rec.config["atrous_rates"])  # not degenerate ASPP
    assert rec.data["rank"] == compare.noise_rank(rec.groups)
    table = compare.summary_table(rec.data)
    assert len(table) == len(rec.groups) and "±" in table["mIoU"][0]


@pytest.mark.slow
def test_one_live_seed_lands_inside_the_recorded_spread():
    """Rerun seed 0 of two models at the live protocol: within 3 std of the recorded live runs."""
    from src import record

    rec = _record()
    torch.set_num_threads(2)
    rows = compare.compare(**compare.PROTOCOLS["live"], archs=("fcn", "pspnet"), se_options=(False,), seed=0,
                           progress_bar=False)  # fmt: skip
    live = record.Record("capstone", {**rec.data, "groups": rec.data["live"]["groups"]})
    for r in rows:
        assert live.within_spread(r.label, r.miou), (r.label, r.miou, live.groups[r.label])
