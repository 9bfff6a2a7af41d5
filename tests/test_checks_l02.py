"""Lesson 02's checks reject the classic wrong answers and accept other correct solutions (visible and hidden)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from src.checks import _core, hidden_spec, l02


@pytest.fixture(autouse=True)
def _fresh_hint_ladder():
    _core.ATTEMPTS.clear()


def hidden_reasons(exercise_id, fn):
    """What the grader would decide per hidden case (an exception in the learner's call is a failure)."""
    spec = hidden_spec(exercise_id)
    reasons = []
    # like the grader: the learner's calls on one copy of the cases, the reference on another
    for (args, kwargs), (ref_args, ref_kwargs) in zip(spec.cases(), spec.cases(), strict=True):
        try:
            got = spec.call(fn, args, kwargs)
        except Exception as exc:
            reasons.append(f"raised {type(exc).__name__}")
            continue
        reasons.append(spec.compare(got, spec.reference(ref_args, ref_kwargs)))
    return reasons


def both(check, exercise_id, fn):
    return check(fn).passed, not any(hidden_reasons(exercise_id, fn))


def dilate_slices(weight, rate):
    kh, kw = weight.shape[-2:]
    out = weight.new_zeros((*weight.shape[:-2], rate * (kh - 1) + 1, rate * (kw - 1) + 1))
    out[..., ::rate, ::rate] = weight
    return out


def dilate_transposed_conv(weight, rate):  # another correct solution: a strided transposed conv of a delta
    lead, (kh, kw) = weight.shape[:-2], weight.shape[-2:]
    flat = weight.reshape(-1, 1, kh, kw)
    delta = torch.ones(1, 1, 1, 1, dtype=weight.dtype)
    out = F.conv_transpose2d(flat, delta, stride=rate)
    return out.reshape(*lead, *out.shape[-2:])


DILATE_WRONG = {
    "size r*k": lambda w, r: torch.zeros(*w.shape[:-2], r * w.shape[-2], r * w.shape[-1], dtype=w.dtype),
    "ones instead of zeros": lambda w, r: dilate_slices(w, r) + (dilate_slices(w, r) == 0),
    "float32 always": lambda w, r: dilate_slices(w, r).float(),
    "last dim only": lambda w, r: torch.repeat_interleave(w, r, dim=-1)[..., : r * (w.shape[-1] - 1) + 1],
}


@pytest.mark.parametrize("fn", [dilate_slices, dilate_transposed_conv])
def test_dilate_kernel_accepts_correct_solutions(fn):
    assert both(l02.check_dilate_kernel, "02-1", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(DILATE_WRONG))
def test_dilate_kernel_rejects_classic_bugs(name):
    visible, hidden = both(l02.check_dilate_kernel, "02-1", DILATE_WRONG[name])
    assert not visible and not hidden


def size_floor(n, k, r=1, p=0, s=1):
    return (n + 2 * p - r * (k - 1) - 1) // s + 1


def size_math(n, k, r=1, p=0, s=1):  # another correct solution
    return math.floor((n + 2 * p - (r * (k - 1) + 1)) / s) + 1


SIZE_WRONG = {
    "true division": lambda n, k, r=1, p=0, s=1: (n + 2 * p - r * (k - 1) - 1) / s + 1,
    "kernel r*k": lambda n, k, r=1, p=0, s=1: (n + 2 * p - r * k) // s + 1,
    "no + 1": lambda n, k, r=1, p=0, s=1: (n + 2 * p - r * (k - 1) - 1) // s,
    "rate ignored": lambda n, k, r=1, p=0, s=1: (n + 2 * p - k) // s + 1,
    "round instead of floor": lambda n, k, r=1, p=0, s=1: round((n + 2 * p - r * (k - 1) - 1) / s) + 1,
    "numpy float": lambda n, k, r=1, p=0, s=1: np.float64(size_floor(n, k, r, p, s)),
}


@pytest.mark.parametrize("fn", [size_floor, size_math, lambda *a: np.int64(size_floor(*a))])
def test_output_size_accepts_correct_solutions(fn):
    assert both(l02.check_atrous_output_size, "02-2", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(SIZE_WRONG))
def test_output_size_rejects_classic_bugs(name):
    visible, hidden = both(l02.check_atrous_output_size, "02-2", SIZE_WRONG[name])
    assert not visible and not hidden


def taps_sum(n, k, r, row, col):
    half = (k - 1) // 2
    rows = sum(0 <= row + r * (t - half) < n for t in range(k))
    cols = sum(0 <= col + r * (t - half) < n for t in range(k))
    return rows * cols


def taps_brute_force(n, k, r, row, col):  # another correct solution: pad a map of ones and look
    ones = torch.ones(1, 1, n, n)
    half = (k - 1) // 2
    padded = F.pad(ones, (r * half,) * 4)
    window = padded[0, 0, row : row + r * (k - 1) + 1 : r, col : col + r * (k - 1) + 1 : r]
    return int(window.sum())


TAPS_WRONG = {
    "<= n": lambda n, k, r, row, col: (
        sum(0 <= row + r * (t - (k - 1) // 2) <= n for t in range(k))
        * sum(0 <= col + r * (t - (k - 1) // 2) <= n for t in range(k))
    ),
    "rows only": lambda n, k, r, row, col: sum(0 <= row + r * (t - (k - 1) // 2) < n for t in range(k)) * k,
    "rows + cols": lambda n, k, r, row, col: (
        sum(0 <= row + r * (t - (k - 1) // 2) < n for t in range(k))
        + sum(0 <= col + r * (t - (k - 1) // 2) < n for t in range(k))
    ),
    "rate ignored": lambda n, k, r, row, col: taps_sum(n, k, 1, row, col),
    "a float": lambda n, k, r, row, col: float(taps_sum(n, k, r, row, col)),
    "a bool": lambda n, k, r, row, col: taps_sum(n, k, r, row, col) > 0,
}


@pytest.mark.parametrize("fn", [taps_sum, taps_brute_force])
def test_valid_taps_accepts_correct_solutions(fn):
    assert both(l02.check_count_valid_taps, "02-3", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(TAPS_WRONG))
def test_valid_taps_rejects_classic_bugs(name):
    visible, hidden = both(l02.check_count_valid_taps, "02-3", TAPS_WRONG[name])
    assert not visible and not hidden
