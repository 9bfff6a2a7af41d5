"""Tests of src.dilated (lesson 02): from-scratch atrous convolution, sizes, valid weights, gridding."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import src
from src import dilated as d


@pytest.fixture(autouse=True)
def _english():
    src.set_language("en")
    yield
    src.set_language("vi")


# ----------------------------------------------------------------------------- atrous_conv2d == conv2d(dilation)
@st.composite
def conv_case(draw):
    rate = draw(st.integers(1, 5))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    padding = draw(st.integers(0, 6))
    cin, cout = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    # odd and even sizes, always large enough for the effective kernel
    h = draw(st.integers(max(1, rate * (kh - 1) + 1 - 2 * padding), 20))
    w = draw(st.integers(max(1, rate * (kw - 1) + 1 - 2 * padding), 20))
    n = draw(st.integers(1, 2))
    use_bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return rate, (kh, kw), padding, (n, cin, h, w), cout, use_bias, seed


@settings(max_examples=60, deadline=None)
@given(conv_case(), st.sampled_from(["unfold", "zeros"]))
def test_atrous_conv2d_equals_conv2d_with_dilation(case, method):
    rate, (kh, kw), padding, shape, cout, use_bias, seed = case
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    w = torch.randn(cout, shape[1], kh, kw, generator=g, dtype=torch.float64)
    b = torch.randn(cout, generator=g, dtype=torch.float64) if use_bias else None
    expected = F.conv2d(x, w, b, padding=padding, dilation=rate)
    got = d.atrous_conv2d(x, w, b, rate=rate, padding=padding, method=method)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
    # the output-size formula agrees with what conv2d produced
    assert got.shape[-2] == d.atrous_output_size(shape[2], kh, rate, padding)
    assert got.shape[-1] == d.atrous_output_size(shape[3], kw, rate, padding)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 4), st.sampled_from([1, 3, 5]), st.integers(1, 12), st.sampled_from(["unfold", "zeros"]))
def test_same_padding_keeps_size_and_matches_conv2d(rate, k, size, method):
    x = torch.randn(1, 2, size, size + 1, dtype=torch.float64)
    w = torch.randn(3, 2, k, k, dtype=torch.float64)
    got = d.atrous_conv2d(x, w, rate=rate, padding="same", method=method)
    assert got.shape[-2:] == x.shape[-2:]
    expected = F.conv2d(x, w, padding=d.same_padding(k, rate), dilation=rate)
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("method", ["unfold", "zeros"])
def test_gradients_match_conv2d(method):
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    ref = torch.autograd.grad(F.conv2d(x, w, b, padding=2, dilation=3).sin().sum(), (x, w, b))
    got = torch.autograd.grad(d.atrous_conv2d(x, w, b, 3, 2, method).sin().sum(), (x, w, b))
    for a, e in zip(got, ref):
        torch.testing.assert_close(a, e)


def test_no_dilation_argument_in_from_scratch_code():
    import ast
    import inspect
    import textwrap

    for fn in (d.atrous_conv2d_unfold, d.atrous_conv2d_zero_insert, d.atrous_conv2d, d.dilate_kernel):
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        keywords = [kw.arg for node in ast.walk(tree) if isinstance(node, ast.Call) for kw in node.keywords]
        assert "dilation" not in keywords, fn.__name__


def test_dilate_kernel_places_taps_every_rate():
    w = torch.arange(1.0, 10.0).view(3, 3)
    out = d.dilate_kernel(w, 3)
    assert out.shape == (7, 7)
    assert torch.equal(out[::3, ::3], w)
    assert out.sum() == w.sum() and int((out != 0).sum()) == 9
    assert torch.equal(d.dilate_kernel(w, 1), w)
    assert d.dilate_kernel(torch.ones(2, 5, 3, 2), 2).shape == (2, 5, 5, 3)


# ----------------------------------------------------------------------------- sizes
@pytest.mark.parametrize(
    ("n", "k", "r", "p", "s", "expected"),
    [(65, 3, 1, 1, 1, 65), (65, 3, 6, 6, 1, 65), (10, 3, 2, 0, 1, 6), (512, 7, 1, 3, 2, 256), (8, 3, 4, 0, 1, -1)],
)
def test_atrous_output_size(n, k, r, p, s, expected):
    if expected < 0:
        with pytest.raises(ValueError, match="input_size"):
            d.atrous_output_size(n, k, r, p, s)
        return
    assert d.atrous_output_size(n, k, r, p, s) == expected
    if n + 2 * p >= r * (k - 1) + 1:
        x = torch.zeros(1, 1, n, n)
        assert F.conv2d(x, torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=r).shape[-1] == expected


def test_effective_kernel_and_same_padding():
    assert d.effective_kernel_size(3, 1) == 3
    assert d.effective_kernel_size(3, 6) == 13
    assert d.effective_kernel_size(5, 2) == 9
    assert d.same_padding(3, 12) == 12
    assert d.same_padding(5, 2) == 4


# ----------------------------------------------------------------------------- valid weights
def _brute_force_histogram(n, k, r):
    counts = {}
    for row in range(n):
        for col in range(n):
            c = d.count_valid_taps(n, k, r, row, col)
            counts[c] = counts.get(c, 0) + 1
    return {c: v / (n * n) for c, v in sorted(counts.items())}


@pytest.mark.parametrize(("n", "k", "r"), [(9, 3, 1), (9, 3, 4), (9, 3, 8), (12, 5, 3), (7, 3, 20), (1, 3, 1)])
def test_histogram_matches_brute_force(n, k, r):
    got = d.valid_weight_histogram(n, k, r)
    expected = _brute_force_histogram(n, k, r)
    assert list(got) == list(expected)
    for key in expected:
        assert math.isclose(got[key], expected[key])
    assert math.isclose(sum(got.values()), 1.0)


def test_count_valid_taps_brute_force_with_padded_conv():
    # a 'same'-padded atrous conv of an all-ones map with an all-ones kernel counts the valid taps
    n, k, r = 11, 3, 4
    ones = torch.ones(1, 1, n, n, dtype=torch.float64)
    counted = F.conv2d(ones, torch.ones(1, 1, k, k, dtype=torch.float64), padding=r, dilation=r)[0, 0]
    for row in range(n):
        for col in range(n):
            assert d.count_valid_taps(n, k, r, row, col) == int(counted[row, col])


def test_deeplabv3_figure4_endpoints():
    # rate 1: most positions see all 9 taps; rate >= 65 on 65x65: a 1x1 filter everywhere
    h1 = d.valid_weight_histogram(65, 3, 1)
    assert h1[9] > 0.9 and 1 not in h1
    assert d.valid_weight_histogram(65, 3, 65) == {1: 1.0}
    assert d.valid_weight_histogram(65, 3, 100) == {1: 1.0}
    # the fraction with all 9 valid weights never increases with the rate
    nine = [d.valid_weight_histogram(65, 3, r).get(9, 0.0) for r in range(1, 70)]
    assert all(a >= b for a, b in itertools.pairwise(nine))
    assert math.isclose(nine[31], 1 / 65**2)  # rate 32: only the centre (taps at 0, 32, 64) sees all 9
    assert nine[32] == 0.0  # rate 33: no position does


# ----------------------------------------------------------------------------- gridding
def test_gridding_same_rate_leaves_holes_hybrid_fills():
    fp = d.gridding_footprint([2, 2, 2])
    assert fp.shape == (13, 13)
    reached = fp > 0
    assert reached[::2, ::2].all() and not reached[1::2, :].any() and not reached[:, 1::2].any()
    assert math.isclose(d.gridding_coverage([2, 2, 2]), 49 / 169)
    assert d.gridding_footprint([1, 2, 3]).shape == (13, 13)
    assert d.gridding_coverage([1, 2, 3]) == 1.0


def test_gridding_footprint_is_an_impulse_response():
    rates = [1, 3, 2]
    size = 1 + 2 * sum(rates)
    x = torch.zeros(1, 1, 2 * size, 2 * size, dtype=torch.float64)
    x[0, 0, size, size] = 1.0
    for r in rates:
        x = F.conv2d(x, torch.ones(1, 1, 3, 3, dtype=torch.float64), padding=r, dilation=r)
    half = size // 2
    window = x[0, 0, size - half : size + half + 1, size - half : size + half + 1]
    assert torch.equal(d.gridding_footprint(rates), window.round().long())


# ----------------------------------------------------------------------------- output stride and multi-grid
def test_replace_stride_for():
    assert d.replace_stride_for(32) == [False, False, False]
    assert d.replace_stride_for(16) == [False, False, True]
    assert d.replace_stride_for(8) == [False, True, True]


@pytest.mark.parametrize(
    ("os_", "mg", "rates"), [(16, None, [1, 2, 2]), (16, (1, 2, 4), [2, 4, 8]), (8, (1, 2, 4), [4, 8, 16])]
)
def test_resnet_backbone_strides_and_multi_grid(os_, mg, rates):
    with torch.device("meta"):
        body = d.resnet_backbone(os_, 50, multi_grid=mg)
        out = body(torch.empty(1, 3, 64, 64))
    assert tuple(out.shape) == (1, 2048, 64 // os_, 64 // os_)
    assert [blk.conv2.dilation[0] for blk in body[-1]] == rates
    assert [blk.conv2.padding[0] for blk in body[-1]] == rates


def test_rates_after_last_stride():
    with torch.device("meta"):
        assert d.rates_after_last_stride(d.resnet_backbone(32)) == [1, 1]  # layer4 blocks 2 and 3
        assert d.rates_after_last_stride(d.resnet_backbone(16, multi_grid=(1, 2, 4))) == [1] * 5 + [2, 4, 8]
        assert d.rates_after_last_stride(d.resnet_backbone(8)) == [1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 4, 4]
    stack = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, padding=2, dilation=2), torch.nn.MaxPool2d(2))
    assert d.rates_after_last_stride(stack) == []


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: d.atrous_conv2d(torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 3, 3), rate=0), "rate"),
        (lambda: d.atrous_conv2d(torch.zeros(1, 2, 8, 8), torch.zeros(1, 3, 3, 3)), "weight"),
        (lambda: d.atrous_conv2d(torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 2, 2), padding="same"), "padding"),
        (lambda: d.atrous_conv2d(torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 3, 3), padding=-1), "padding"),
        (lambda: d.atrous_conv2d(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 3, 3), rate=3), "x"),
        (lambda: d.atrous_conv2d(torch.zeros(1, 2, 8, 8), torch.zeros(2, 2, 3, 3), torch.zeros(3)), "bias"),
        (lambda: d.atrous_conv2d(torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 3, 3), method="fft"), "method"),
        (lambda: d.valid_weight_histogram(65, 4, 2), "kernel_size"),
        (lambda: d.valid_weight_histogram(65, 3, 0), "rate"),
        (lambda: d.valid_weight_histogram(0, 3, 1), "feature_size"),
        (lambda: d.count_valid_taps(5, 3, 1, 5, 0), "row"),
        (lambda: d.dilate_kernel(torch.ones(3, 3), 1.5), "rate"),
        (lambda: d.atrous_output_size(10, 3, rate=0), "rate"),
        (lambda: d.gridding_footprint([2, 0]), "rate"),
        (lambda: d.gridding_footprint([]), "rates"),
        (lambda: d.replace_stride_for(4), "output_stride"),
        (lambda: d.resnet_backbone(8, 18), "depth"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(call, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*expected.*got"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: d.atrous_conv2d(torch.zeros(2, 8, 8), torch.zeros(1, 2, 3, 3)),
        lambda: d.atrous_conv2d([[1.0]], torch.zeros(1, 1, 1, 1)),
        lambda: d.dilate_kernel([1, 2, 3], 2),
    ],
)
def test_wrong_type_raises_type_error(call):
    with pytest.raises(TypeError, match="expected"):
        call()


def test_error_message_follows_language():
    src.set_language("vi")
    with pytest.raises(ValueError, match="tham số `rate` cần"):
        d.valid_weight_histogram(65, 3, 0)


# ----------------------------------------------------------------------------- checks and self-check
def test_checks_pass_reference_and_fail_wrong(capsys):
    from src import checks

    assert checks.check_dilate_kernel(d.dilate_kernel).passed
    assert checks.check_atrous_output_size(d.atrous_output_size).passed
    assert checks.check_count_valid_taps(d.count_valid_taps).passed
    assert not checks.check_dilate_kernel(lambda w, r: w).passed
    assert not checks.check_atrous_output_size(lambda n, k, r=1, p=0, s=1: (n + 2 * p - k) // s + 1).passed
    assert not checks.check_count_valid_taps(lambda n, k, r, row, col: k * k).passed

    def unsolved(*args):
        raise NotImplementedError

    result = checks.check_count_valid_taps(unsolved)
    assert not result.passed and "not done" in result.message
    assert "❌" in capsys.readouterr().out


def test_selfcheck_core_cpu():
    line = d.selfcheck_core(torch.device("cpu"))
    assert "conv2d" in line and "cpu" in line
