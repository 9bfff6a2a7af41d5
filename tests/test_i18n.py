"""Decimal commas in Vietnamese outputs: pandas tables (display.float_format) and src.format_value."""

import math

import pandas as pd
import pytest

import src
from src.i18n import vi_float


@pytest.fixture(autouse=True)
def _english_after():
    yield
    src.set_language("en")


def test_vietnamese_table_has_decimal_commas_english_has_points():
    table = pd.DataFrame({"miou": [0.408, 0.5], "epochs": [12, 3]})
    src.set_language("vi")
    vi = table.to_string()
    assert "0,408" in vi and "0.408" not in vi
    assert "<td>0,408</td>" in table.to_html()
    assert " 12" in vi and " 3" in vi  # integers untouched
    src.set_language("en")
    en = table.to_string()
    assert "0.408" in en and "0,408" not in en


def test_switching_back_restores_pandas_default():
    default = pd.get_option("display.float_format")
    table = pd.DataFrame({"x": [1.0, 0.29, float("nan")]})
    expected = table.to_string()
    src.set_language("vi")
    assert pd.get_option("display.float_format") is vi_float
    src.set_language("en")
    assert pd.get_option("display.float_format") is default
    assert table.to_string() == expected


def test_english_leaves_a_users_own_float_format_alone():
    src.set_language("en")
    mine = "{:.2f}".format
    with pd.option_context("display.float_format", mine):
        src.set_language("en")
        assert pd.get_option("display.float_format") is mine


def test_nan_inf_and_exponents_stay_readable():
    src.set_language("vi")
    text = pd.DataFrame({"x": [float("nan"), math.inf, 1.6e-6, 0.1 + 0.2]}).to_string()
    assert "NaN" in text and "inf" in text and "1,6e-06" in text and "0,3" in text
    assert vi_float(1.0) == "1,0" and vi_float(-2.5) == "-2,5" and vi_float(23508032.0) == "23508032,0"
    assert vi_float(float("-inf")) == "-inf"


def test_format_value_english_is_what_print_shows():
    src.set_language("en")
    report = {"pixel_accuracy": 0.9, "miou": 0.4512, "count": 3}
    assert src.format_value(report, 3) == str({k: round(v, 3) for k, v in report.items()})
    assert src.format_value([1 / 3, 0.5], 4) == "[0.3333, 0.5]"
    assert src.format_value(2 / 3, 4) == "0.6667"
    assert src.format_value(("a", 1.5)) == "('a', 1.5)"


def test_format_value_vietnamese_has_commas_and_semicolons():
    src.set_language("vi")
    assert src.format_value({"miou": 0.4512, "n": 3}, 3) == "{'miou': 0,451; 'n': 3}"
    assert src.format_value([1 / 3, 0.5], 4) == "[0,3333; 0,5]"
    assert src.format_value(2 / 3, 4) == "0,6667"
    assert src.format_value(7) == "7" and src.format_value("conv") == "conv"
    with pytest.raises(ValueError, match="digits"):
        src.format_value(0.5, -1)


def test_decimal_commas_only_in_vietnamese():
    line = "CE = 0.805212, max |diff| 5.4e-01, 97.50%, RF 7"
    src.set_language("vi")
    assert src.decimal_commas(line) == "CE = 0,805212, max |diff| 5,4e-01, 97,50%, RF 7"
    assert src.format_number(0.5) == "0,500"
    src.set_language("en")
    assert src.decimal_commas(line) == line
