"""Tests for src.permutohedral (lesson 04): the lattice against a per-point transcription of the C++ code."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import src
from src import _lattice_numba
from src.permutohedral import COMPILED_FILTER_MIN_LABELS, PermutohedralLattice


def reference_point(f: list[float], lower_first: bool = True) -> tuple[list[list[int]], list[float]]:
    """One point, plain Python, line by line as Krähenbühl's C++ (pydensecrf's permutohedral.cpp).

    Returns the keys (first d coordinates) of the d+1 vertices, remainder 0..d, and the barycentric weights.
    ``lower_first=False`` breaks ties in the rank the other way (a wrong transcription, to test the test).
    """
    d = len(f)
    d1 = d + 1
    inv_std_dev = math.sqrt(2.0 / 3.0) * d1
    scale = [inv_std_dev / math.sqrt((i + 1) * (i + 2)) for i in range(d)]
    elevated = [0.0] * d1
    sm = 0.0
    for i in range(d, 0, -1):
        cf = f[i - 1] * scale[i - 1]
        elevated[i] = sm - i * cf
        sm += cf
    elevated[0] = sm
    rem0, total = [], 0
    for i in range(d1):
        v = elevated[i] / d1
        up, down = math.ceil(v) * d1, math.floor(v) * d1
        rem0.append(up if up - elevated[i] < elevated[i] - down else down)
        total += rem0[-1] // d1
    rank = [0] * d1
    for i in range(d):
        for j in range(i + 1, d1):
            di, dj = elevated[i] - rem0[i], elevated[j] - rem0[j]
            if di < dj or (not lower_first and di == dj):
                rank[i] += 1
            else:
                rank[j] += 1
    for i in range(d1):
        rank[i] += total
        if rank[i] < 0:
            rank[i] += d1
            rem0[i] += d1
        elif rank[i] > d:
            rank[i] -= d1
            rem0[i] -= d1
    bary = [0.0] * (d + 2)
    for i in range(d1):
        v = (elevated[i] - rem0[i]) / d1
        bary[d - rank[i]] += v
        bary[d - rank[i] + 1] -= v
    bary[0] += 1.0 + bary[d1]
    keys = [[rem0[k] + (r if rank[k] <= d - r else r - d1) for k in range(d)] for r in range(d1)]
    return keys, bary[:d1]


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_vertices_and_weights_match_the_cpp_steps_point_by_point(d):
    gen = torch.Generator().manual_seed(d)
    feats = torch.randn(300, d, generator=gen) * 2.5
    lattice = PermutohedralLattice(feats)
    keys = lattice.keys()
    for i in range(feats.shape[0]):
        ref_keys, ref_bary = reference_point(feats[i].double().tolist())
        ours = keys[lattice.offsets[i] - 1].tolist()  # row 0 of the value table is the zero row
        assert ours == ref_keys, i
        torch.testing.assert_close(
            lattice.barycentric[i].double(), torch.tensor(ref_bary, dtype=torch.float64), atol=1e-5, rtol=0
        )
    torch.testing.assert_close(lattice.barycentric.sum(1), torch.ones(300), atol=1e-5, rtol=0)
    assert (lattice.barycentric > -1e-6).all()


def test_ties_on_a_pixel_grid_follow_the_cpp_rule():
    """Grid features have ties in the residuals; the lattice breaks them as the C++ does, not the other way."""
    ys, xs = torch.meshgrid(torch.arange(12.0), torch.arange(12.0), indexing="ij")
    feats = torch.stack([xs.reshape(-1), ys.reshape(-1)], 1) / 3
    lattice = PermutohedralLattice(feats)
    keys = lattice.keys()
    ours = [keys[lattice.offsets[i] - 1].tolist() for i in range(feats.shape[0])]
    assert ours == [reference_point(p)[0] for p in feats.double().tolist()]
    assert ours != [reference_point(p, lower_first=False)[0] for p in feats.double().tolist()]


def image_features(h: int = 30, w: int = 40, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    rgb = torch.randint(0, 256, (h * w, 3), generator=gen).float()
    rgb[: h * w // 2] = 40.0  # a flat half: many pixels share a simplex
    return torch.cat([xs.reshape(-1, 1) / 8, ys.reshape(-1, 1) / 8, rgb / 13], 1)


@pytest.mark.parametrize("feats", [image_features(), image_features()[:, :2] * 2.7, torch.randn(500, 4) * 3])
def test_grouping_simplices_builds_the_same_lattice(feats):
    grouped, plain = PermutohedralLattice(feats), PermutohedralLattice(feats, group_simplices=False)
    assert grouped.m == plain.m
    assert torch.equal(grouped.offsets, plain.offsets)
    torch.testing.assert_close(grouped.barycentric, plain.barycentric, atol=0, rtol=0)
    for (a1, a2), (b1, b2) in zip(grouped.neighbours, plain.neighbours, strict=True):
        assert torch.equal(a1, b1) and torch.equal(a2, b2)
    for a, b in ((grouped.splat_csr, plain.splat_csr), (grouped.slice_csr, plain.slice_csr)):
        torch.testing.assert_close(a.to_dense(), b.to_dense())


def _grid(h: int = 30, w: int = 40, theta: float = 3.0) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], 1) / theta


@pytest.mark.skipif(not _lattice_numba.available(), reason="numba is not installed")
@pytest.mark.parametrize(
    "feats",
    [
        image_features(),  # the bilateral kernel's features, half of the image flat
        _grid(),  # the Gaussian kernel's: a regular grid
        torch.randn(500, 4) * 3,
        torch.randn(300, 1) * 5,
        torch.zeros(50, 3),  # every point in one simplex
        torch.randn(2000, 5) * 40,  # many lattice points: the hash table grows several times
    ],
)
def test_compiled_build_gives_the_same_lattice_as_the_tensor_build(feats):
    compiled, tensor = PermutohedralLattice(feats, build="compiled"), PermutohedralLattice(feats, build="tensor")
    assert (compiled.build, tensor.build) == ("compiled", "tensor")
    assert compiled.m == tensor.m
    assert torch.equal(compiled._codes, tensor._codes) and torch.equal(compiled.offsets, tensor.offsets)
    torch.testing.assert_close(compiled.barycentric, tensor.barycentric, atol=0, rtol=0)
    for (a1, a2), (b1, b2) in zip(compiled.neighbours, tensor.neighbours, strict=True):
        assert torch.equal(a1, b1) and torch.equal(a2, b2)
    for a, b in ((compiled.splat_csr, tensor.splat_csr), (compiled.slice_csr, tensor.slice_csr)):
        torch.testing.assert_close(a.to_dense(), b.to_dense())
    few = torch.rand(feats.shape[0], 3, generator=torch.Generator().manual_seed(0))
    many = torch.rand(feats.shape[0], COMPILED_FILTER_MIN_LABELS + 4, generator=torch.Generator().manual_seed(1))
    for normalized in (False, True):
        if normalized:
            for lattice in (compiled, tensor):
                lattice.normalize_symmetric()
        for values in (few, many):  # sparse products below the threshold, the compiled loops above it
            for reverse in (False, True):
                torch.testing.assert_close(compiled.filter(values, reverse), tensor.filter(values, reverse))


def test_build_argument_and_the_fallback_without_numba(monkeypatch):
    src.set_language("en")
    feats = image_features(8, 6)
    with pytest.raises(ValueError, match="build"):
        PermutohedralLattice(feats, build="fast")
    monkeypatch.setattr(_lattice_numba, "available", lambda: False)
    assert PermutohedralLattice(feats).build == "tensor"  # "auto" falls back to the tensor build
    with pytest.raises(ValueError, match="numba"):
        PermutohedralLattice(feats, build="compiled")
    src.set_language("vi")


def test_splat_is_the_transpose_of_slice():
    lattice = PermutohedralLattice(image_features(12, 10))
    splat, sliced = lattice.splat_csr.to_dense(), lattice.slice_csr.to_dense() / lattice.alpha
    torch.testing.assert_close(splat, sliced.T)
    assert splat[0].abs().sum() == 0  # row 0: the zero "missing neighbour"
    # every blur row: itself (1) and its two neighbours (1/2 each, or the zero row when missing)
    for blur in lattice.blur_csr:
        dense = blur.to_dense()
        assert dense[0].abs().sum() == 0
        torch.testing.assert_close(torch.diagonal(dense)[1:], torch.ones(lattice.m))
        torch.testing.assert_close(dense[1:, 1:], dense[1:, 1:].T)  # the neighbour relation is symmetric
        assert set(dense[1:].unique().tolist()) <= {0.0, 0.5, 1.0}


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_sparse_and_teaching_paths_agree(normalize, reverse):
    feats = image_features()
    values = torch.rand(feats.shape[0], 4, generator=torch.Generator().manual_seed(1))
    sparse, plain = PermutohedralLattice(feats), PermutohedralLattice(feats, sparse=False)
    if normalize:
        sparse.normalize_symmetric()
        plain.normalize_symmetric()
    a, b = sparse.filter(values, reverse=reverse), plain.filter(values, reverse=reverse)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(a, values)  # it filtered


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 5.0), c=st.integers(1, 4))
def test_filter_is_linear(seed, scale, c):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(200, 3, generator=gen) * 2
    lattice = PermutohedralLattice(feats)
    lattice.normalize_symmetric()
    x, y = torch.rand(200, c, generator=gen), torch.rand(200, c, generator=gen)
    torch.testing.assert_close(
        lattice.filter(scale * x + y), scale * lattice.filter(x) + lattice.filter(y), atol=1e-4, rtol=1e-4
    )


def test_normalized_filter_keeps_constants_near_constant():
    """D^-1/2 K D^-1/2 1 is 1 where the density is uniform (inside a flat region)."""
    ys, xs = torch.meshgrid(torch.arange(40.0), torch.arange(40.0), indexing="ij")
    lattice = PermutohedralLattice(torch.stack([xs.reshape(-1), ys.reshape(-1)], 1) / 3)
    lattice.normalize_symmetric()
    out = lattice.filter(torch.ones(1600, 1)).reshape(40, 40)
    torch.testing.assert_close(out[10:30, 10:30], torch.ones(20, 20), atol=0.02, rtol=0)


@pytest.mark.parametrize(
    ("features", "kind"),
    [
        ([[0.0, 1.0]], TypeError),
        (torch.zeros(5, 2, dtype=torch.long), TypeError),
        (torch.zeros(5), TypeError),
        (torch.zeros(0, 2), ValueError),
        (torch.tensor([[0.0, 0.0], [1e9, 1e9], [-1e9, 3e8]]), ValueError),  # keys too wide for int64
    ],
)
def test_bad_features_raise_a_clear_error(features, kind):
    src.set_language("en")
    try:
        with pytest.raises(kind, match="`features`"):
            PermutohedralLattice(features)
    finally:
        src.set_language("vi")
    with pytest.raises(kind, match="nhận được"):
        PermutohedralLattice(features)


def test_filter_rejects_values_of_the_wrong_shape():
    lattice = PermutohedralLattice(torch.randn(10, 2))
    for bad in (torch.ones(9, 1), torch.ones(10), [[1.0]] * 10):
        with pytest.raises(ValueError, match="`values`"):
            lattice.filter(bad)


@pytest.mark.parametrize("sparse", [True, False])
def test_normalize_symmetric_is_d_half_k_d_half_and_idempotent(sparse):
    """normalize_symmetric computes K 1 without the unscaled splat/slice matrices (issue 18): it must still be
    D^-1/2 K D^-1/2 with D = K 1 of the raw lattice, and calling it twice must not normalise twice."""
    feats = image_features()
    values = torch.rand(feats.shape[0], 3, generator=torch.Generator().manual_seed(4))
    raw = PermutohedralLattice(feats, sparse=sparse)
    scale = (raw.filter(torch.ones(feats.shape[0], 1))[:, 0] + 1e-20).rsqrt()[:, None]
    expected = scale * raw.filter(scale * values)
    lattice = PermutohedralLattice(feats, sparse=sparse)
    lattice.normalize_symmetric()
    once = lattice.filter(values)
    torch.testing.assert_close(once, expected, atol=1e-5, rtol=1e-4)
    lattice.normalize_symmetric()
    torch.testing.assert_close(lattice.filter(values), once, atol=0, rtol=0)
    assert not torch.allclose(once, raw.filter(values), atol=1e-3)  # the normalisation changed the result
