"""Lesson 08's checks reject the classic wrong answers and accept other correct solutions (visible and hidden)."""

import pytest
import torch
import torch.nn.functional as F

from src import checks, repvgg
from src.checks import _core, hidden_spec, l08


@pytest.fixture(autouse=True)
def _fresh_hint_ladder():
    _core.ATTEMPTS.clear()


def hidden_reasons(exercise_id, fn):
    """What the grader would decide per hidden case (an exception in the learner's call is a failure)."""
    spec = hidden_spec(exercise_id)
    reasons = []
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


def test_checks_are_exported_and_registered():
    assert checks.check_fuse_bn is l08.check_fuse_bn and checks.check_merge_branches is l08.check_merge_branches
    assert _core.exercises_of("08") == ["08-1", "08-2"]
    assert [hidden_spec(e).function for e in ("08-1", "08-2")] == ["fuse_bn", "merge_branches"]


# ----------------------------------------------------------------------------- the references are RepVGG's
@pytest.mark.parametrize(("c_in", "c_out", "stride"), [(4, 4, 1), (3, 5, 1), (4, 4, 2)])
def test_references_rebuild_a_repvgg_block_exactly(c_in, c_out, stride):
    torch.manual_seed(0)
    block = repvgg.RepVGGBlock(c_in, c_out, stride)
    for bn in [m for m in block.modules() if isinstance(m, torch.nn.BatchNorm2d)]:
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.2, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-1, 1)
    block.eval()

    def fused(conv, bn):
        return l08.fuse_bn_reference(conv.weight, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.eps)

    k3, b3 = fused(block.dense[0], block.dense[1])
    k1, b1 = fused(block.one_by_one[0], block.one_by_one[1])
    scale = shift = None
    if block.identity is not None:
        bn = block.identity
        std = (bn.running_var + bn.eps).sqrt()
        scale, shift = bn.weight / std, bn.bias - bn.running_mean * bn.weight / std
    kernel, bias = l08.merge_branches_reference(k3, b3, k1, b1, scale, shift)
    expected_kernel, expected_bias = block.equivalent_kernel_bias()
    torch.testing.assert_close(kernel, expected_kernel)
    torch.testing.assert_close(bias, expected_bias)
    x = torch.randn(2, c_in, 9, 7)
    with torch.no_grad():
        out = F.relu(F.conv2d(x, kernel, bias, stride, 1))
        torch.testing.assert_close(out, block(x), atol=1e-5, rtol=1e-5)


def test_grouped_identity_is_the_identity_map():
    channels, groups = 6, 3
    zeros = torch.zeros(channels, channels // groups, 3, 3)
    kernel, bias = l08.merge_branches_reference(
        zeros, torch.zeros(channels), zeros[..., :1, :1], torch.zeros(channels), torch.ones(channels),
        torch.zeros(channels), groups=groups,
    )  # fmt: skip
    x = torch.randn(1, channels, 5, 5)
    torch.testing.assert_close(F.conv2d(x, kernel, bias, padding=1, groups=groups), x)


# ----------------------------------------------------------------------------- 08-1 fuse BN
def fuse_solution(kernel, gamma, beta, running_mean, running_var, eps):
    std = (running_var + eps).sqrt()
    return kernel * (gamma / std).reshape(-1, 1, 1, 1), beta - running_mean * gamma / std


def fuse_rsqrt(kernel, gamma, beta, running_mean, running_var, eps):  # another correct solution
    scale = gamma * torch.rsqrt(running_var + eps)
    return torch.einsum("oikl,o->oikl", kernel, scale), beta - running_mean * scale


def _fuse_with(std_fn, *, bias_fn=None, axis=0):
    def fuse(kernel, gamma, beta, running_mean, running_var, eps):
        std = std_fn(running_var, eps)
        shape = [1, 1, 1, 1]
        shape[axis] = -1
        if axis == 1 and kernel.shape[1] != kernel.shape[0]:
            scale = (gamma / std)[: kernel.shape[1]].reshape(shape)
        else:
            scale = (gamma / std).reshape(shape)
        bias = bias_fn(gamma, beta, running_mean, std) if bias_fn else beta - running_mean * gamma / std
        return kernel * scale, bias

    return fuse


FUSE_WRONG = {
    "forgetting eps": _fuse_with(lambda v, e: v.sqrt()),
    "running_var without sqrt": _fuse_with(lambda v, e: v + e),
    "eps outside the root": _fuse_with(lambda v, e: v.sqrt() + e),
    "bias without the mean": _fuse_with(lambda v, e: (v + e).sqrt(), bias_fn=lambda g, b, m, s: b),
    "mean not scaled": _fuse_with(lambda v, e: (v + e).sqrt(), bias_fn=lambda g, b, m, s: b - m),
    "scaled along the input channels": _fuse_with(lambda v, e: (v + e).sqrt(), axis=1),
    "kernel not scaled": lambda k, g, b, m, v, e: (k, b - m * g / (v + e).sqrt()),
    "a list instead of a tuple of tensors": lambda *a: [t.tolist() for t in fuse_solution(*a)],
}


@pytest.mark.parametrize("fn", [fuse_solution, fuse_rsqrt])
def test_fuse_bn_accepts_correct_solutions(fn):
    assert both(l08.check_fuse_bn, "08-1", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(FUSE_WRONG))
def test_fuse_bn_rejects_classic_bugs(name):
    visible, hidden = both(l08.check_fuse_bn, "08-1", FUSE_WRONG[name])
    assert not visible and not hidden


# ----------------------------------------------------------------------------- 08-2 merge the branches
def merge_solution(k3, b3, k1, b1, id_scale, id_bias, groups=1):
    kernel, bias = k3 + F.pad(k1, [1, 1, 1, 1]), b3 + b1
    if id_scale is not None:
        identity = torch.zeros_like(k3)
        per_group = k3.shape[1]
        for i in range(k3.shape[0]):
            identity[i, i % per_group, 1, 1] = id_scale[i]
        kernel, bias = kernel + identity, bias + id_bias
    return kernel, bias


def merge_by_slices(k3, b3, k1, b1, id_scale, id_bias, groups=1):  # another correct solution
    kernel = k3.clone()
    kernel[:, :, 1:2, 1:2] += k1
    bias = b3 + b1
    if id_scale is not None:
        per_group = kernel.shape[1]
        eye = torch.eye(per_group).repeat(groups, 1)  # C x C/groups: row i has its 1 at i % (C / groups)
        kernel[:, :, 1, 1] += eye * id_scale[:, None]
        bias = bias + id_bias
    return kernel, bias


def _identity_all_pairs(k3, b3, k1, b1, s, t, groups=1):
    kernel, bias = k3 + F.pad(k1, [1, 1, 1, 1]), b3 + b1
    if s is not None:
        kernel = kernel.clone()
        kernel[:, :, 1, 1] += s[:, None]
        bias = bias + t
    return kernel, bias


def _identity_ignoring_groups(k3, b3, k1, b1, s, t, groups=1):
    kernel, bias = k3 + F.pad(k1, [1, 1, 1, 1]), b3 + b1
    if s is not None:
        kernel = kernel.clone()
        n = min(kernel.shape[0], kernel.shape[1])
        kernel[torch.arange(n), torch.arange(n), 1, 1] += s[:n]
        bias = bias + t
    return kernel, bias


def _identity_in_corner(k3, b3, k1, b1, s, t, groups=1):
    kernel, bias = merge_solution(k3, b3, k1, b1, None, None)
    if s is not None:
        rows = torch.arange(k3.shape[0])
        kernel[rows, rows % k3.shape[1], 0, 0] += s
        bias = bias + t
    return kernel, bias


MERGE_WRONG = {
    "1x1 padded into the top-left corner": lambda k3, b3, k1, b1, s, t, groups=1: merge_solution(
        k3 - F.pad(k1, [1, 1, 1, 1]) + F.pad(k1, [0, 2, 0, 2]), b3, k1, b1, s, t, groups
    ),
    "1x1 broadcast over all nine taps": lambda k3, b3, k1, b1, s, t, groups=1: merge_solution(
        k3 - F.pad(k1, [1, 1, 1, 1]) + k1.expand_as(k3), b3, k1, b1, s, t, groups
    ),
    "identity linking every channel pair": _identity_all_pairs,
    "identity ignoring the groups": _identity_ignoring_groups,
    "identity at a corner tap": _identity_in_corner,
    "identity bias dropped": lambda k3, b3, k1, b1, s, t, groups=1: merge_solution(
        k3, b3, k1, b1, s, None if t is None else t * 0, groups
    ),
    "identity without its BN scale": lambda k3, b3, k1, b1, s, t, groups=1: merge_solution(
        k3, b3, k1, b1, None if s is None else torch.ones_like(s), t, groups
    ),
    "1x1 bias dropped": lambda k3, b3, k1, b1, s, t, groups=1: merge_solution(k3, b3, k1, b1 * 0, s, t, groups),
}


@pytest.mark.parametrize("fn", [merge_solution, merge_by_slices])
def test_merge_accepts_correct_solutions(fn):
    assert both(l08.check_merge_branches, "08-2", fn) == (True, True)


@pytest.mark.parametrize("name", sorted(MERGE_WRONG))
def test_merge_rejects_classic_bugs(name):
    visible, hidden = both(l08.check_merge_branches, "08-2", MERGE_WRONG[name])
    assert not visible and not hidden


def test_checks_never_raise_on_garbage():
    assert not l08.check_fuse_bn(42).passed
    assert not l08.check_merge_branches(lambda *a, **k: 1 / 0).passed
