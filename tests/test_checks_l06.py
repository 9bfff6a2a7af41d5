"""Lesson 06's checks reject the classic wrong answers and accept other correct solutions (visible and hidden)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from src.checks import _core, hidden_spec, l06


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


def se_solution(x, w_down, b_down, w_up, b_up):
    s = x.mean(dim=(2, 3))
    z = torch.relu(s @ w_down.t() + b_down)
    return x * torch.sigmoid(z @ w_up.t() + b_up)[:, :, None, None]


def se_conv(x, w_down, b_down, w_up, b_up):  # another correct solution: 1x1 convolutions
    s = F.adaptive_avg_pool2d(x, 1)
    z = F.relu(F.conv2d(s, w_down[:, :, None, None], b_down))
    return x * torch.sigmoid(F.conv2d(z, w_up[:, :, None, None], b_up))


SE_WRONG = {
    "square window of side W (the post's bug)": lambda x, wd, bd, wu, bu: (
        x * torch.sigmoid(F.relu(F.avg_pool2d(x, x.size(3)).mean((2, 3)) @ wd.t() + bd) @ wu.t() + bu)[:, :, None, None]
    ),
    "no sigmoid": lambda x, wd, bd, wu, bu: x * (F.relu(x.mean((2, 3)) @ wd.t() + bd) @ wu.t() + bu)[:, :, None, None],
    "no relu": lambda x, wd, bd, wu, bu: (
        x * torch.sigmoid((x.mean((2, 3)) @ wd.t() + bd) @ wu.t() + bu)[..., None, None]
    ),
    "biases dropped": lambda x, wd, bd, wu, bu: se_solution(x, wd, bd * 0, wu, bu * 0),
    "gate, not the scaled x": lambda x, wd, bd, wu, bu: se_solution(x, wd, bd, wu, bu) / x,
}


@pytest.mark.parametrize("fn", [se_solution, se_conv])
def test_se_forward_accepts_correct_solutions(fn):
    assert both(l06.check_se_forward, "06-1", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(SE_WRONG))
def test_se_forward_rejects_classic_bugs(name):
    visible, hidden = both(l06.check_se_forward, "06-1", SE_WRONG[name])
    assert not visible and not hidden


def overhead_solution(channels, reduction=16):
    total = 0
    for c in channels:
        hidden = max(1, c // reduction)
        total += 2 * c * hidden + hidden + c
    return total


def overhead_modules(channels, reduction=16):  # another correct solution: count real modules' parameters
    total = 0
    for c in channels:
        hidden = max(1, c // reduction)
        block = torch.nn.Sequential(torch.nn.Conv2d(c, hidden, 1), torch.nn.Conv2d(hidden, c, 1))
        total += sum(p.numel() for p in block.parameters())
    return total


OVERHEAD_WRONG = {
    "no max(1, .)": lambda ch, r=16: sum(2 * c * (c // r) + c // r + c for c in ch),
    "weights only": lambda ch, r=16: sum(2 * c * max(1, c // r) for c in ch),
    "true division": lambda ch, r=16: sum(2 * c * max(1, c / r) + max(1, c / r) + c for c in ch),
    "one bias only": lambda ch, r=16: sum(2 * c * max(1, c // r) + c for c in ch),
    "a float": lambda ch, r=16: float(overhead_solution(ch, r)),
    "a numpy float": lambda ch, r=16: np.float64(overhead_solution(ch, r)),
}


@pytest.mark.parametrize(
    "fn", [overhead_solution, overhead_modules, lambda ch, r=16: np.int64(overhead_solution(ch, r))]
)
def test_overhead_accepts_correct_solutions(fn):
    assert both(l06.check_se_overhead, "06-2", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(OVERHEAD_WRONG))
def test_overhead_rejects_classic_bugs(name):
    visible, hidden = both(l06.check_se_overhead, "06-2", OVERHEAD_WRONG[name])
    assert not visible and not hidden


def spatial_solution(x, weight, bias):
    return x * torch.sigmoid(torch.einsum("nchw,c->nhw", x, weight) + bias)[:, None]


def spatial_conv(x, weight, bias):  # another correct solution: a real 1x1 convolution
    return x * torch.sigmoid(F.conv2d(x, weight.reshape(1, -1, 1, 1), bias.reshape(1)))


SPATIAL_WRONG = {
    "softmax over the pixels": lambda x, w, b: (
        x * torch.softmax((torch.einsum("nchw,c->nhw", x, w) + b).flatten(1), 1).view(x.shape[0], *x.shape[2:])[:, None]
    ),
    "mean over the channels": lambda x, w, b: x * torch.sigmoid(x.mean(1, keepdim=True) + b),
    "bias dropped": lambda x, w, b: spatial_solution(x, w, b * 0),
    "channel gate": lambda x, w, b: x * torch.sigmoid(x.mean((2, 3), keepdim=True) * w[None, :, None, None] + b),
}


@pytest.mark.parametrize("fn", [spatial_solution, spatial_conv])
def test_spatial_se_accepts_correct_solutions(fn):
    assert both(l06.check_spatial_se, "06-3", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(SPATIAL_WRONG))
def test_spatial_se_rejects_classic_bugs(name):
    visible, hidden = both(l06.check_spatial_se, "06-3", SPATIAL_WRONG[name])
    assert not visible and not hidden
