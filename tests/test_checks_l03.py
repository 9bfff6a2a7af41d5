"""Lesson 03's checks reject the classic wrong answers and accept other correct solutions (visible and hidden)."""

import pytest
import torch
import torch.nn.functional as F

from src.checks import _core, hidden_spec, l03


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


def aspp_solution(aspp, x):
    return aspp.project(torch.cat([branch(x) for branch in aspp.convs], dim=1))


def aspp_loop(aspp, x):  # another correct solution: one branch at a time, then the projection's layers
    outs = []
    for branch in aspp.convs:
        outs.append(branch(x))
    y = torch.cat(outs, 1)
    for layer in aspp.project:
        y = layer(y)
    return y


ASPP_WRONG = {
    "sum instead of concat": lambda aspp, x: aspp.project(
        sum(b(x) for b in aspp.convs).repeat(1, len(aspp.convs), 1, 1)
    ),
    "last branch dropped": lambda aspp, x: aspp.project(
        torch.cat([b(x) for b in aspp.convs[:-1]] + [torch.zeros_like(aspp.convs[0](x))], dim=1)
    ),
    "no projection": lambda aspp, x: torch.cat([b(x) for b in aspp.convs], dim=1),
    "reversed branches": lambda aspp, x: aspp.project(torch.cat([b(x) for b in list(aspp.convs)[::-1]], dim=1)),
}


@pytest.mark.parametrize("fn", [aspp_solution, aspp_loop])
def test_aspp_accepts_correct_solutions(fn):
    assert both(l03.check_aspp_forward, "03-1", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(ASPP_WRONG))
def test_aspp_rejects_classic_bugs(name):
    visible, hidden = both(l03.check_aspp_forward, "03-1", ASPP_WRONG[name])
    assert not visible and not hidden


def pooling_solution(x, conv, bn):
    g = F.relu(bn(conv(x.mean(dim=(2, 3), keepdim=True))))
    return F.interpolate(g, size=x.shape[-2:], mode="bilinear", align_corners=False)


def pooling_expand(x, conv, bn):  # another correct solution: adaptive pooling, then broadcast
    g = torch.relu(bn(conv(F.adaptive_avg_pool2d(x, 1))))
    return g.expand(-1, -1, *x.shape[-2:]).clone()


POOLING_WRONG = {
    "max pooling": lambda x, c, b: pooling_solution(x.amax((2, 3), keepdim=True).expand_as(x), c, b),
    "no relu": lambda x, c, b: F.interpolate(b(c(x.mean((2, 3), keepdim=True))), size=x.shape[-2:]),
    "relu before bn": lambda x, c, b: F.interpolate(b(F.relu(c(x.mean((2, 3), keepdim=True)))), size=x.shape[-2:]),
    "not upsampled": lambda x, c, b: F.relu(b(c(x.mean((2, 3), keepdim=True)))),
    "mean over the batch too": lambda x, c, b: pooling_solution(x.mean(0, keepdim=True).expand_as(x), c, b),
}


@pytest.mark.parametrize("fn", [pooling_solution, pooling_expand])
def test_image_pooling_accepts_correct_solutions(fn):
    assert both(l03.check_image_pooling, "03-2", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(POOLING_WRONG))
def test_image_pooling_rejects_classic_bugs(name):
    visible, hidden = both(l03.check_image_pooling, "03-2", POOLING_WRONG[name])
    assert not visible and not hidden


def dice_solution(logits, target, smooth=1.0):
    probs = logits.softmax(dim=1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    intersection = (probs * onehot).sum(dim=(0, 2, 3))
    dice = (2 * intersection + smooth) / (probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3)) + smooth)
    return 1 - dice.mean()


def dice_per_class_loop(logits, target, smooth=1.0):  # another correct solution: one class at a time
    probs = torch.softmax(logits, 1)
    total = 0
    for c in range(logits.shape[1]):
        p, g = probs[:, c], (target == c).float()
        total = total + (2 * (p * g).sum() + smooth) / (p.sum() + g.sum() + smooth)
    return 1 - total / logits.shape[1]


def dice_per_image(logits, target, smooth=1.0):
    return torch.stack([dice_solution(z[None], t[None], smooth) for z, t in zip(logits, target, strict=True)]).mean()


DICE_WRONG = {
    "no softmax": lambda z, t, smooth=1.0: dice_solution(z.log_softmax(1).exp().pow(2).log(), t, smooth),
    "mean of per-image losses": dice_per_image,
    "a python float": lambda z, t, smooth=1.0: dice_solution(z, t, smooth).item(),
    "detached": lambda z, t, smooth=1.0: dice_solution(z, t, smooth).detach(),
    "dice, not the loss": lambda z, t, smooth=1.0: 1 - dice_solution(z, t, smooth),
    "smooth ignored": lambda z, t, smooth=1.0: dice_solution(z, t, 1.0),
    "absent classes dropped": lambda z, t, smooth=1.0: dice_solution(z[:, : int(t.max()) + 1], t, smooth),
}


@pytest.mark.parametrize("fn", [dice_solution, dice_per_class_loop])
def test_dice_accepts_correct_solutions(fn):
    assert both(l03.check_dice_loss, "03-3", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(DICE_WRONG))
def test_dice_rejects_classic_bugs(name):
    visible, hidden = both(l03.check_dice_loss, "03-3", DICE_WRONG[name])
    assert not visible and not hidden


def test_a_float_loss_is_told_it_lost_its_gradient():
    message = l03.check_dice_loss(DICE_WRONG["detached"]).message
    assert "gradient" in message
