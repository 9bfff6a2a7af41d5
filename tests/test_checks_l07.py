"""Lesson 07's checks reject the classic wrong answers and accept other correct solutions (visible and hidden)."""

import pytest
import torch

from src.checks import _core, hidden_spec, l07


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


def name(row):
    return row["model"] + (" + SE" if row["se"] else "")


def budget_solution(rows, latency_budget_ms):
    fitting = [r for r in rows if r["latency_ms"] <= latency_budget_ms]
    if not fitting:
        return None
    return name(max(fitting, key=lambda r: (r["miou"], -r["latency_ms"])))


def budget_sorted(rows, latency_budget_ms):  # another correct solution: sort (a copy) by speed, keep the first max
    best = None
    for row in sorted(rows, key=lambda r: r["latency_ms"]):
        if row["latency_ms"] <= latency_budget_ms and (best is None or row["miou"] > best["miou"]):
            best = row
    return None if best is None else name(best)


def budget_in_place_sort(rows, latency_budget_ms):  # correct, but mutates the shared table: must not matter
    rows.sort(key=lambda r: r["latency_ms"])
    return budget_sorted(rows, latency_budget_ms)


def budget_table_wrecker(rows, latency_budget_ms):  # empties the table for the cases after it
    answer = budget_solution(rows, latency_budget_ms)
    rows.clear()
    return answer


BUDGET_WRONG = {
    "ties ignored": lambda rows, b: (lambda f: name(max(f, key=lambda r: r["miou"])) if f else None)(
        [r for r in rows if r["latency_ms"] <= b]
    ),
    "strict <": lambda rows, b: budget_solution(rows, b - 1e-9),
    "fastest, not best": lambda rows, b: (lambda f: name(min(f, key=lambda r: r["latency_ms"])) if f else None)(
        [r for r in rows if r["latency_ms"] <= b]
    ),
    "'+SE' without spaces": lambda rows, b: (budget_solution(rows, b) or "").replace(" + SE", "+SE") or None,
    "empty string instead of None": lambda rows, b: budget_solution(rows, b) or "",
    "SE flag ignored": lambda rows, b: (
        lambda f: max(f, key=lambda r: (r["miou"], -r["latency_ms"]))["model"] if f else None
    )([r for r in rows if r["latency_ms"] <= b]),
}


@pytest.mark.parametrize("fn", [budget_solution, budget_sorted, budget_in_place_sort, budget_table_wrecker])
def test_budget_accepts_correct_solutions_even_ones_that_mutate_the_table(fn):
    assert both(l07.check_best_under_budget, "07-1", fn) == (True, True)


@pytest.mark.parametrize("label", sorted(BUDGET_WRONG))
def test_budget_rejects_classic_bugs(label):
    visible, hidden = both(l07.check_best_under_budget, "07-1", BUDGET_WRONG[label])
    assert not visible and not hidden


def test_a_learner_mutating_the_table_cannot_make_a_later_check_pass():
    def wreck_and_lie(rows, budget):
        rows.clear()
        return None  # right only if the table were really empty

    assert not l07.check_best_under_budget(wreck_and_lie).passed
    assert not l07.check_best_under_budget(wreck_and_lie).passed
    assert l07._table()[0]["model"] == "FCN"


def confused_solution(cm):
    cm = cm.double()
    tp = cm.diag()
    iou = tp / (cm.sum(0) + cm.sum(1) - tp)
    worst = int(torch.nan_to_num(iou, nan=2.0).argmin())
    row = cm[worst].clone()
    row[worst] = -1
    return worst, int(row.argmax())


def confused_python(cm):  # another correct solution: plain Python lists, a list answer, tensor scalars inside
    m = cm.tolist()
    c = len(m)
    ious = []
    for k in range(c):
        union = sum(m[k]) + sum(r[k] for r in m) - m[k][k]
        ious.append(m[k][k] / union if union else float("inf"))
    worst = ious.index(min(ious))
    others = [(v, j) for j, v in enumerate(m[worst]) if j != worst]
    return [torch.tensor(worst), max(others, key=lambda t: (t[0], -t[1]))[1]]


def recall_worst(cm):
    cm = cm.double()
    worst = int(torch.nan_to_num(cm.diag() / cm.sum(1), nan=2.0).argmin())
    row = cm[worst].clone()
    row[worst] = -1
    return worst, int(row.argmax())


def column_instead_of_row(cm):
    worst, _ = confused_solution(cm)
    col = cm[:, worst].double().clone()
    col[worst] = -1
    return worst, int(col.argmax())


def diagonal_kept(cm):
    worst, _ = confused_solution(cm)
    return worst, int(cm[worst].argmax())


def nan_not_handled(cm):
    cm = cm.double()
    tp = cm.diag()
    iou = tp / (cm.sum(0) + cm.sum(1) - tp)
    worst = int(iou.argmin())
    row = cm[worst].clone()
    row[worst] = -1
    return worst, int(row.argmax())


CONFUSED_WRONG = {
    "recall instead of IoU": recall_worst,
    "column instead of row": column_instead_of_row,
    "diagonal kept": diagonal_kept,
    "floats": lambda cm: tuple(float(v) for v in confused_solution(cm)),
}


@pytest.mark.parametrize("fn", [confused_solution, confused_python])
def test_most_confused_accepts_correct_solutions(fn):
    assert both(l07.check_most_confused, "07-2", fn) == (True, True)


@pytest.mark.parametrize("label", sorted(CONFUSED_WRONG))
def test_most_confused_rejects_classic_bugs(label):
    visible, hidden = both(l07.check_most_confused, "07-2", CONFUSED_WRONG[label])
    assert not visible and not hidden


def test_most_confused_rejects_a_nan_worst_class():
    assert not l07.check_most_confused(nan_not_handled).passed
