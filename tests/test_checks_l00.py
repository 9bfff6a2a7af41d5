"""Lesson 00's checks reject the classic wrong answers and accept other correct solutions (visible and hidden)."""

import numpy as np
import pytest
import torch

from src.checks import _core, hidden_spec, l00


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


def cm_solution(pred, target, num_classes):
    index = target.reshape(-1) * num_classes + pred.reshape(-1)
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def cm_loops(pred, target, num_classes):  # another correct solution: two loops
    m = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for t, p in zip(target.flatten().tolist(), pred.flatten().tolist(), strict=True):
        m[t, p] += 1
    return m


def cm_numpy_add_at(pred, target, num_classes):  # numpy inside, a torch tensor out
    m = np.zeros((num_classes, num_classes), dtype=np.int32)
    np.add.at(m, (target.numpy().ravel(), pred.numpy().ravel()), 1)
    return torch.from_numpy(m)


CM_WRONG = {
    "no minlength": lambda p, t, c: torch.bincount(t.flatten() * c + p.flatten()).reshape(-1)[: c * c],
    "rows are predictions": lambda p, t, c: cm_solution(p, t, c).T,
    "float matrix": lambda p, t, c: cm_solution(p, t, c).float(),
    "bool matrix": lambda p, t, c: cm_solution(p, t, c) > 0,
    "numpy array": lambda p, t, c: cm_solution(p, t, c).numpy(),
    "nested lists": lambda p, t, c: cm_solution(p, t, c).tolist(),
}


@pytest.mark.parametrize("fn", [cm_solution, cm_loops, cm_numpy_add_at])
def test_confusion_matrix_accepts_correct_solutions(fn):
    assert l00.check_confusion_matrix(fn).passed
    assert hidden_reasons("00-1", fn) == [None] * len(hidden_spec("00-1").cases())


@pytest.mark.parametrize("name", sorted(CM_WRONG))
def test_confusion_matrix_rejects_classic_bugs(name):
    fn = CM_WRONG[name]
    assert not l00.check_confusion_matrix(fn).passed
    if name != "numpy array":  # the hidden comparison is on plain data: numpy or torch both fine there
        assert any(hidden_reasons("00-1", fn))


def iou_solution(cm):
    cm = cm.float()
    tp = cm.diag()
    return tp / (cm.sum(0) + cm.sum(1) - tp)


def iou_double_loop(cm):  # another correct solution, float64
    c = cm.shape[0]
    out = torch.empty(c, dtype=torch.float64)
    for k in range(c):
        tp = float(cm[k, k])
        out[k] = tp / (float(cm[k, :].sum()) + float(cm[:, k].sum()) - tp)
    return out


IOU_WRONG = {
    "recall": lambda cm: cm.diag().float() / cm.sum(1).float(),
    "precision": lambda cm: cm.diag().float() / cm.sum(0).float(),
    "integer division": lambda cm: cm.diag() // (cm.sum(0) + cm.sum(1) - cm.diag()),
    "union without - TP": lambda cm: cm.diag().float() / (cm.sum(0) + cm.sum(1)).float(),
    "mean IoU only": lambda cm: iou_solution(cm).mean(),
}


@pytest.mark.parametrize("fn", [iou_solution, iou_double_loop])
def test_iou_accepts_correct_solutions(fn):
    assert l00.check_iou_from_confusion(fn).passed
    assert not any(hidden_reasons("00-2", fn))


@pytest.mark.parametrize("name", sorted(IOU_WRONG))
def test_iou_rejects_classic_bugs(name):
    assert not l00.check_iou_from_confusion(IOU_WRONG[name]).passed
    assert any(hidden_reasons("00-2", IOU_WRONG[name]))


def test_a_wrong_confusion_matrix_shows_the_failing_input():
    def transposed(pred, target, num_classes):
        return cm_solution(pred, target, num_classes).T

    message = l00.check_confusion_matrix(transposed).message
    assert "inputs:" in message and "pred=tensor([0, 1, 1, 2]" in message and "num_classes=3" in message
    assert "got:" in message and "expected:" in message and "Hint:" in message


def test_hints_never_give_the_one_line_solution():
    for hint in l00._CM_HINTS + l00._IOU_HINTS:
        for text in hint:
            assert "bincount(" not in text and "minlength" not in text and ".diag()" not in text
