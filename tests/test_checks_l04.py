"""Lesson 04's checks reject the classic wrong answers and accept other correct solutions (visible and hidden)."""

import pytest
import torch

from src import crf
from src.checks import _core, hidden_spec, l04


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


def potts_solution(messages, weight):
    return weight * (messages.sum(0, keepdim=True) - messages)


def potts_matrix(messages, weight):  # another correct solution: the compatibility matrix mu = 1 - I
    c = messages.shape[0]
    mu = torch.ones(c, c) - torch.eye(c)
    return weight * mu @ messages


POTTS_WRONG = {
    "pydensecrf's -w m (not the formula asked)": lambda m, w: -w * m,
    "sum over the pixels": lambda m, w: w * (m.sum(1, keepdim=True) - m),
    "all labels, own included": lambda m, w: w * m.sum(0, keepdim=True).expand_as(m),
    "weight ignored": lambda m, w: m.sum(0, keepdim=True) - m,
}


@pytest.mark.parametrize("fn", [potts_solution, potts_matrix])
def test_potts_accepts_correct_solutions(fn):
    assert both(l04.check_potts_transform, "04-1", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(POTTS_WRONG))
def test_potts_rejects_classic_bugs(name):
    visible, hidden = both(l04.check_potts_transform, "04-1", POTTS_WRONG[name])
    assert not visible and not hidden


def step_solution(unary, q, kernels, weights):
    pairwise = torch.zeros_like(q)
    for kernel, weight in zip(kernels, weights, strict=True):
        pairwise = pairwise + crf.potts_transform(q @ kernel.T, weight)
    return torch.softmax(-unary - pairwise, dim=0)


def step_pydensecrf_sign(unary, q, kernels, weights):  # -w Q~(l): differs by a per-pixel constant, same softmax
    energy = -unary.clone()
    for kernel, weight in zip(kernels, weights, strict=True):
        energy = energy + weight * (kernel @ q.T).T
    energy = energy - energy.max(0, keepdim=True).values
    e = energy.exp()
    return e / e.sum(0, keepdim=True)


STEP_WRONG = {
    "softmax over the pixels": lambda u, q, ks, ws: torch.softmax(
        -u - sum(crf.potts_transform(q @ k.T, w) for k, w in zip(ks, ws, strict=True)), dim=1
    ),
    "plus the unary": lambda u, q, ks, ws: torch.softmax(
        u - sum(crf.potts_transform(q @ k.T, w) for k, w in zip(ks, ws, strict=True)), dim=0
    ),
    "first kernel only": lambda u, q, ks, ws: step_solution(u, q, ks[:1], ws[:1]),
    "weights ignored": lambda u, q, ks, ws: step_solution(u, q, ks, [1.0] * len(ks)),
    "messages the wrong way (q @ K)": lambda u, q, ks, ws: torch.softmax(
        -u - sum(crf.potts_transform(q @ k, w) for k, w in zip(ks, ws, strict=True)), dim=0
    ),
    "not normalised": lambda u, q, ks, ws: torch.exp(
        -u - sum(crf.potts_transform(q @ k.T, w) for k, w in zip(ks, ws, strict=True))
    ),
}


@pytest.mark.parametrize("fn", [step_solution, step_pydensecrf_sign])
def test_mean_field_step_accepts_correct_solutions(fn):
    assert both(l04.check_mean_field_step, "04-2", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(STEP_WRONG))
def test_mean_field_step_rejects_classic_bugs(name):
    visible, hidden = both(l04.check_mean_field_step, "04-2", STEP_WRONG[name])
    assert not visible and not hidden
