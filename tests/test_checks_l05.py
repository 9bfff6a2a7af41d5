"""Lesson 05's checks reject the classic wrong answers and accept other correct solutions (visible and hidden)."""

import pytest
import torch
import torch.nn.functional as F

from src.checks import _core, hidden_spec, l05


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


def crp_solution(x, convs):
    x = F.relu(x)
    path = x
    for conv in convs:
        path = conv(F.max_pool2d(path, 5, stride=1, padding=2))
        x = x + path
    return x


def crp_list(x, convs):  # another correct solution: keep every p_j, sum at the end
    paths = [torch.relu(x)]
    for conv in convs:
        paths.append(conv(torch.nn.MaxPool2d(5, 1, 2)(paths[-1])))
    return torch.stack(paths).sum(0)


def crp_not_chained(x, convs):
    x = F.relu(x)
    out = x
    for conv in convs:
        out = out + conv(F.max_pool2d(x, 5, stride=1, padding=2))
    return out


CRP_WRONG = {
    "not chained (pools x every time)": crp_not_chained,
    "no relu": lambda x, convs: crp_solution(x, convs) - F.relu(x) + x,
    "3x3 pooling": lambda x, convs: crp_list_pool(x, convs, 3),
    "last path only": lambda x, convs: crp_last_only(x, convs),
}


def crp_list_pool(x, convs, k):
    x = F.relu(x)
    path = x
    for conv in convs:
        path = conv(F.max_pool2d(path, k, stride=1, padding=k // 2))
        x = x + path
    return x


def crp_last_only(x, convs):
    path = F.relu(x)
    for conv in convs:
        path = conv(F.max_pool2d(path, 5, stride=1, padding=2))
    return path


@pytest.mark.parametrize("fn", [crp_solution, crp_list])
def test_crp_accepts_correct_solutions(fn):
    assert both(l05.check_chained_residual_pooling, "05-2", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(CRP_WRONG))
def test_crp_rejects_classic_bugs(name):
    visible, hidden = both(l05.check_chained_residual_pooling, "05-2", CRP_WRONG[name])
    assert not visible and not hidden


def fusion_solution(features, convs):
    size = max((f.shape[-2:] for f in features), key=lambda s: s[0] * s[1])
    out = 0
    for f, conv in zip(features, convs, strict=True):
        out = out + F.interpolate(conv(f), size=size, mode="bilinear", align_corners=False)
    return out


def fusion_sorted(features, convs):  # another correct solution: sort by area, stack, sum
    areas = [f.shape[-2] * f.shape[-1] for f in features]
    size = tuple(features[areas.index(max(areas))].shape[-2:])
    ups = [F.interpolate(c(f), size=size, mode="bilinear") for f, c in zip(features, convs, strict=True)]
    return torch.stack(ups).sum(0)


FUSION_WRONG = {
    "size of the first path": lambda fs, cs: sum(
        F.interpolate(c(f), size=fs[0].shape[-2:], mode="bilinear") for f, c in zip(fs, cs, strict=True)
    ),
    "size of the last path": lambda fs, cs: sum(
        F.interpolate(c(f), size=fs[-1].shape[-2:], mode="bilinear") for f, c in zip(fs, cs, strict=True)
    ),
    "tallest map": lambda fs, cs: sum(
        F.interpolate(c(f), size=max(x.shape[-2:] for x in fs), mode="bilinear") for f, c in zip(fs, cs, strict=True)
    ),
    "align_corners=True": lambda fs, cs: sum(
        F.interpolate(
            c(f), size=max((x.shape[-2:] for x in fs), key=lambda s: s[0] * s[1]), mode="bilinear", align_corners=True
        )
        for f, c in zip(fs, cs, strict=True)
    ),
    "nearest": lambda fs, cs: sum(
        F.interpolate(c(f), size=max((x.shape[-2:] for x in fs), key=lambda s: s[0] * s[1]), mode="nearest")
        for f, c in zip(fs, cs, strict=True)
    ),
}


@pytest.mark.parametrize("fn", [fusion_solution, fusion_sorted])
def test_fusion_accepts_correct_solutions(fn):
    assert both(l05.check_multi_resolution_fusion, "05-1", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(FUSION_WRONG))
def test_fusion_rejects_classic_bugs(name):
    visible, hidden = both(l05.check_multi_resolution_fusion, "05-1", FUSION_WRONG[name])
    assert not visible and not hidden
