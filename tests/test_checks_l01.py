"""Lesson 01's checks reject the classic wrong answers and accept other correct solutions (visible and hidden)."""

import numpy as np
import pytest

from src.checks import _core, hidden_spec, l01


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


def chain_solution(layers):
    r, j, out = 1, 1, []
    for k, s, d in layers:
        r += (k - 1) * d * j
        j *= s
        out.append((r, j))
    return out


def chain_effective_kernel(layers):  # another correct solution: effective kernel, lists instead of tuples
    out, r, j = [], 1, 1
    for k, s, d in layers:
        k_eff = d * (k - 1) + 1
        r, j = r + (k_eff - 1) * j, j * s
        out.append([r, j])
    return out


def chain_jump_first(layers):
    r, j, out = 1, 1, []
    for k, s, d in layers:
        j *= s
        r += (k - 1) * d * j
        out.append((r, j))
    return out


CHAIN_WRONG = {
    "jump updated before the RF": chain_jump_first,
    "dilation ignored": lambda layers: chain_solution([(k, s, 1) for k, s, _ in layers]),
    "final only": lambda layers: chain_solution(layers)[-1:] if layers else [],
    "rf starts at 0": lambda layers: [(r - 1, j) for r, j in chain_solution(layers)],
    "numpy floats": lambda layers: [(np.float64(r), j) for r, j in chain_solution(layers)],
}


@pytest.mark.parametrize("fn", [chain_solution, chain_effective_kernel])
def test_rf_chain_accepts_correct_solutions(fn):
    assert both(l01.check_rf_of_chain, "01-1", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(CHAIN_WRONG))
def test_rf_chain_rejects_classic_bugs(name):
    visible, hidden = both(l01.check_rf_of_chain, "01-1", CHAIN_WRONG[name])
    assert not visible and not hidden


TRUE_RF = {"A": 13, "B": 18, "C": 15, "D": 19}


def test_predicted_rf_accepts_the_right_numbers_in_any_integer_form():
    assert both(l01.check_predicted_rf, "01-2", lambda: dict(TRUE_RF)) == (True, True)
    assert both(l01.check_predicted_rf, "01-2", lambda: {k: np.int64(v) for k, v in TRUE_RF.items()}) == (True, True)


@pytest.mark.parametrize(
    "answer",
    [
        {"A": 13, "B": 10, "C": 15, "D": 19},  # pooling forgotten
        {"A": 13, "B": 18, "C": 7, "D": 19},  # dilation forgotten
        {k: float(v) for k, v in TRUE_RF.items()},
        {k: v for k, v in TRUE_RF.items() if k != "D"},
        [13, 18, 15, 19],
        None,
    ],
    ids=repr,
)
def test_predicted_rf_says_not_yet_without_revealing_the_values(answer):
    r = l01.check_predicted_rf(lambda: answer)
    assert not r.passed
    for value in ("13", "18", "15", "19"):
        if answer is None or (isinstance(answer, dict) and str(value) not in map(str, answer.values())):
            assert value not in r.message
    assert any(hidden_reasons("01-2", lambda: answer))


def test_predicted_rf_names_the_nets_still_wrong():
    message = l01.check_predicted_rf(lambda: {"A": 13, "B": 10, "C": 15, "D": 19}).message
    assert "not yet: B" in message and "18" not in message


def depth_solution(target_rf, kernel=3, stride=1, dilation=1):
    depth, r, j = 0, 1, 1
    while r < target_rf:
        r += (kernel - 1) * dilation * j
        j *= stride
        depth += 1
    return depth


def depth_from_chain(target_rf, kernel=3, stride=1, dilation=1):  # another correct solution: reuse 01-1
    depth = 0
    while (chain_solution([(kernel, stride, dilation)] * depth) or [(1, 1)])[-1][0] < target_rf:
        depth += 1
    return depth


DEPTH_WRONG = {
    "<= instead of <": lambda t, k=3, s=1, d=1: depth_solution(t + 1, k, s, d),
    "stride ignored": lambda t, k=3, s=1, d=1: depth_solution(t, k, 1, d),
    "closed form without ceil": lambda t, k=3, s=1, d=1: (t - 1) // ((k - 1) * d),
    "a float": lambda t, k=3, s=1, d=1: float(depth_solution(t, k, s, d)),
}


@pytest.mark.parametrize("fn", [depth_solution, depth_from_chain])
def test_smallest_depth_accepts_correct_solutions(fn):
    assert both(l01.check_smallest_depth, "01-3", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(DEPTH_WRONG))
def test_smallest_depth_rejects_classic_bugs(name):
    visible, hidden = both(l01.check_smallest_depth, "01-3", DEPTH_WRONG[name])
    assert not visible and not hidden


def test_smallest_depth_that_never_ends_is_stopped():
    def forever(target_rf, kernel=3, stride=1, dilation=1):
        depth, r = 0, 1
        while r < target_rf:
            depth += 1  # r never grows
        return depth

    r = l01.check_smallest_depth(forever)
    assert not r.passed and "took too long" in r.message
