"""Tests for src.record: Welch t, mean ± std in both languages, the schema, and results found through the package."""

import json
import math
import statistics

import pytest

import src
from src import record


def _groups():
    return {"a": [0.60, 0.62, 0.61, 0.63, 0.59], "b": [0.50, 0.52, 0.49, 0.51, 0.53]}


def _record(**overrides):
    kwargs = {
        "lesson": "03",
        "claim_vi": "a tốt hơn b",
        "claim_en": "a beats b",
        "metric": "val_miou",
        "groups": _groups(),
        "config": {"image_size": 64, "output_stride": 4, "atrous_rates": [2, 4, 6]},
        "seeds": [0, 1, 2, 3, 4],
        "better": "a",
        "worse": "b",
    }
    kwargs.update(overrides)
    return record.make_record(**kwargs)


def test_welch_t_matches_the_formula_and_its_sign():
    a, b = _groups()["a"], _groups()["b"]
    se = math.sqrt(statistics.variance(a) / 5 + statistics.variance(b) / 5)
    expected = (statistics.fmean(a) - statistics.fmean(b)) / se
    assert record.welch_t(a, b) == pytest.approx(expected)
    assert record.welch_t(b, a) == pytest.approx(-expected)
    # lower is better (e.g. a loss): the sign flips
    assert record.welch_t(b, a, higher_is_better=False) == pytest.approx(expected)
    assert expected > 2  # these groups clearly differ


def test_welch_t_against_scipy_when_available():
    stats = pytest.importorskip("scipy.stats")
    a, b = [0.41, 0.45, 0.39, 0.47, 0.44, 0.40], [0.38, 0.42, 0.36, 0.40, 0.41]
    assert record.welch_t(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).statistic)


def test_welch_t_degenerate_spreads():
    assert record.welch_t([1.0, 1.0], [1.0, 1.0]) == 0.0
    assert record.welch_t([2.0, 2.0], [1.0, 1.0]) == math.inf
    assert record.welch_t([1.0, 1.0], [2.0, 2.0]) == -math.inf


@pytest.mark.parametrize("bad", [[0.5], "0.5", [0.5, float("nan")], [True, False], {"a": 1}])
def test_welch_t_rejects_bad_groups(bad):
    with pytest.raises(ValueError, match="better"):
        record.welch_t(bad, [0.1, 0.2])


def test_paired_t_matches_the_formula_and_its_sign():
    a, b = _groups()["a"], _groups()["b"]
    d = [x - y for x, y in zip(a, b)]
    expected = statistics.fmean(d) / (statistics.stdev(d) / math.sqrt(len(d)))
    assert record.paired_t(a, b) == pytest.approx(expected)
    assert record.paired_t(b, a) == pytest.approx(-expected)


def test_paired_t_sees_a_steady_gain_that_welch_t_misses():
    # a small gain on every seed, much smaller than the spread between seeds
    before = [0.30, 0.40, 0.35, 0.50, 0.45]
    after = [x + g for x, g in zip(before, [0.010, 0.012, 0.008, 0.011, 0.009])]
    assert record.welch_t(after, before) < 2 < record.paired_t(after, before)


def test_paired_t_against_scipy_when_available():
    stats = pytest.importorskip("scipy.stats")
    a, b = [0.41, 0.45, 0.39, 0.47, 0.44], [0.38, 0.42, 0.36, 0.40, 0.41]
    assert record.paired_t(a, b) == pytest.approx(stats.ttest_rel(a, b).statistic)


def test_paired_t_degenerate_differences():
    assert record.paired_t([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert record.paired_t([2.0, 3.0], [1.0, 2.0]) == math.inf
    assert record.paired_t([1.0, 2.0], [2.0, 3.0]) == -math.inf


@pytest.mark.parametrize("bad", [[0.5], "0.5", [0.5, float("nan")], [True, False], {"a": 1}, None])
def test_paired_t_rejects_bad_groups(bad):
    with pytest.raises(ValueError, match="paired_t"):
        record.paired_t(bad, [0.1, 0.2])
    with pytest.raises(ValueError, match="paired_t"):
        record.paired_t([0.1, 0.2], bad)


def test_paired_t_rejects_groups_of_different_lengths():
    with pytest.raises(ValueError, match="paired_t"):
        record.paired_t([0.1, 0.2, 0.3], [0.1, 0.2])


def test_mean_std_formatting_uses_decimal_commas_in_vietnamese():
    values = [0.5, 0.52, 0.54]
    src.set_language("vi")
    try:
        assert record.format_mean_std(values) == "0,520 ± 0,020 (3 hạt giống)"
        assert record.format_number(1.25, 1) in ("1,2", "1,3")
        src.set_language("en")
        assert record.format_mean_std(values) == "0.520 ± 0.020 (3 seeds)"
        assert record.format_number(0.5) == "0.500"
    finally:
        src.set_language("vi")
    with pytest.raises(ValueError, match="digits"):
        record.format_number(0.5, -1)
    with pytest.raises(TypeError, match="value"):
        record.format_number("0.5")


def test_make_record_has_the_design_schema():
    rec = _record()
    assert set(rec) >= {"lesson", "claim", "metric", "groups", "config", "seeds", "versions", "claim_test"}
    assert rec["claim_test"]["t"] == pytest.approx(record.welch_t(_groups()["a"], _groups()["b"]))
    assert {"python", "torch", "numpy"} <= set(rec["versions"])
    assert rec["claim_test"]["higher_is_better"] is True


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda r: r.pop("versions"), "versions"),
        (lambda r: r["groups"].update(a=[0.6, 0.6, 0.6, 0.6]), "groups"),  # < 5 seeds
        (lambda r: r["claim_test"].update(t=99.0), "claim_test.t"),  # a t that the groups do not give
        (lambda r: r["claim_test"].update(better="c"), "claim_test"),
        (lambda r: r["config"].pop("atrous_rates"), "config"),
        (lambda r: r["claim"].pop("vi"), "claim"),
        (lambda r: r.update(seeds=[0, 1, 2, 3, 4, 5]), "groups"),  # one value per seed
    ],
)
def test_validate_rejects_broken_records(change, match):
    rec = json.loads(json.dumps(_record()))
    change(rec)
    with pytest.raises(ValueError, match=match):
        record.validate(rec)


def test_save_and_load_through_the_package(tmp_path, monkeypatch):
    rec = _record()
    out = record.save(rec, "unit_test_claim", tmp_path / "unit_test_claim.json")
    assert json.loads(out.read_text(encoding="utf-8"))["claim"]["en"] == "a beats b"
    # load() reads from the package's results folder: point the package lookup at tmp_path
    monkeypatch.setattr(record, "_results_root", lambda: tmp_path)
    assert record.available() == ["unit_test_claim"]
    loaded = record.load("unit_test_claim")
    assert loaded.holds and loaded.t > 2
    assert loaded.within_spread("a", 0.61) and not loaded.within_spread("a", 0.30)
    src.set_language("en")
    try:
        assert "a beats b" in loaded.verdict() and "0.610 ± 0.016" in loaded.summary()
    finally:
        src.set_language("vi")
    with pytest.raises(ValueError, match="name"):
        record.load("no_such_result")
    with pytest.raises(ValueError, match="name"):
        record.save(rec, "../escape")


def test_a_null_result_is_stated_as_such():
    rec = _record(groups={"a": [0.5, 0.6, 0.4, 0.55, 0.45], "b": [0.52, 0.48, 0.5, 0.51, 0.49]})
    loaded = record.Record("x", rec)
    assert not loaded.holds
    src.set_language("en")
    try:
        assert "no measurable difference" in loaded.verdict() and "a beats b" not in loaded.verdict()
    finally:
        src.set_language("vi")
    assert "không đo được khác biệt" in loaded.verdict()


def test_every_stored_result_is_valid_with_enough_seeds():
    names = record.available()
    for name in names:
        rec = record.load(name)  # validates: schema, >= 5 seeds per group, t consistent with the groups
        assert len(rec.data["seeds"]) >= record.MIN_SEEDS
        for key in ("image_size", "output_stride", "atrous_rates"):
            assert key in rec.config


def test_results_are_declared_as_package_data():
    from pathlib import Path

    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    assert "results/*.json" in pyproject["tool"]["setuptools"]["package-data"]["src"]


def test_the_opposite_of_a_claim_is_stated_as_such():
    rec = _record(better="b", worse="a")  # the groups say a beats b
    loaded = record.Record("x", rec)
    assert loaded.t < -2 and not loaded.holds
    src.set_language("en")
    try:
        assert "the opposite of the claim" in loaded.verdict()
    finally:
        src.set_language("vi")
