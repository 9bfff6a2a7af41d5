"""The permutohedral lattice's build as two compiled loops over the pixels (numba), lesson 04 / issue 18.

:class:`src.permutohedral.PermutohedralLattice` builds its lattice with whole-tensor operations (the teaching
path: every step is one readable tensor expression, but it needs three sorts and some forty passes over N to
N(d+1) values). Krähenbühl's C++ code (the one in pydensecrf) builds it in one pass with a hash table. This
module is that pass, written as plain per-pixel Python loops and compiled by numba (Lam et al. 2015); the
lattice it returns is the same (same lattice points in the same order, same vertices, same barycentric
weights up to float rounding; ``tests/test_permutohedral.py`` checks them against the tensor build).

numba is optional: :func:`available` is False without it, and the tensor build is used.

Adams, Baek & Davis, "Fast High-Dimensional Filtering Using the Permutohedral Lattice" (Eurographics 2010).
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

try:  # numba compiles the two loops below; without it the lattice keeps its tensor build
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import numba
except ImportError:  # pragma: no cover - numba is in requirements.txt
    numba = None

__all__ = ["available", "enclosing_simplices", "hash_vertices"]


def available() -> bool:
    """True when numba is importable (and ``SRC_LATTICE_BUILD`` does not ask for the tensor build)."""
    return numba is not None and os.environ.get("SRC_LATTICE_BUILD", "auto") != "torch"


def _jit(function):
    if numba is None:  # pragma: no cover
        return function
    return numba.njit(cache=True, nogil=True)(function)


@_jit
def _simplices(features, scales):  # pragma: no cover - compiled (tested through enclosing_simplices)
    n, d = features.shape
    d1 = d + 1
    inv_d1 = np.float32(1.0 / d1)
    rem0 = np.empty((n, d1), np.int64)
    rank = np.empty((n, d1), np.int64)
    bary = np.empty((n, d1), np.float32)
    elevated = np.empty(d1, np.float32)
    residual = np.empty(d1, np.float32)
    by_rank = np.empty(d1, np.float32)
    for p in range(n):
        # elevate onto the plane sum(x) = 0 of R^(d+1)
        running = np.float32(0.0)
        for i in range(d, 0, -1):
            scaled = features[p, i - 1] * scales[i]
            elevated[i] = running - np.float32(i) * scaled
            running = running + scaled
        elevated[0] = running
        # the nearest remainder-0 point, and how far its coordinates sum off the plane
        total = np.float32(0.0)
        for i in range(d1):
            v = elevated[i] * inv_d1
            up = np.float32(math.ceil(v)) * np.float32(d1)
            down = np.float32(math.floor(v)) * np.float32(d1)
            r = up if up - elevated[i] < elevated[i] - down else down
            rem0[p, i] = np.int64(r)
            total += r
        off = np.int64(math.floor(total * inv_d1 + np.float32(0.5)))  # total is a multiple of d+1
        # rank the residuals (largest first; ties: the lower coordinate first), then back onto the plane
        for i in range(d1):
            residual[i] = elevated[i] - np.float32(rem0[p, i])
            rank[p, i] = off
        for i in range(d1):
            for j in range(i + 1, d1):
                if residual[i] < residual[j]:
                    rank[p, i] += 1
                else:
                    rank[p, j] += 1
        for i in range(d1):
            if rank[p, i] < 0:
                rank[p, i] += d1
                rem0[p, i] += d1
            elif rank[p, i] >= d1:
                rank[p, i] -= d1
                rem0[p, i] -= d1
        # barycentric weights: b[k] = s[k] - s[k-1], b[0] = s[0] + 1 - s[d], s[j] the residual of rank d - j
        for i in range(d1):
            by_rank[d - rank[p, i]] = (elevated[i] - np.float32(rem0[p, i])) * inv_d1
        for k in range(1, d1):
            bary[p, k] = by_rank[k] - by_rank[k - 1]
        bary[p, 0] = by_rank[0] + (np.float32(1.0) - by_rank[d])
    return rem0, rank, bary


def enclosing_simplices(features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For N x d float32 features: each point's remainder-0 vertex (N x (d+1)), the ranks of its residuals
    (N x (d+1)) and its barycentric weights (N x (d+1)), as :func:`src.permutohedral._enclosing_simplex` and
    :func:`src.permutohedral._barycentric` compute them."""
    d = features.shape[1]
    inv_std_dev = math.sqrt(2.0 / 3.0) * (d + 1)
    scales = np.zeros(d + 1, np.float32)
    for i in range(1, d + 1):
        scales[i] = inv_std_dev / math.sqrt(i * (i + 1))
    return _simplices(np.ascontiguousarray(features, dtype=np.float32), scales)


@_jit
def _slot(code, spread, mask):  # pragma: no cover - compiled
    # Fibonacci hashing: the top bits of code * 2^64 / golden ratio
    return np.int64((np.uint64(code) * np.uint64(11400714819323198485)) >> spread) & mask


@_jit
def _lookup(table_code, code, spread, mask):  # pragma: no cover - compiled
    slot = _slot(code, spread, mask)
    while table_code[slot] != -1 and table_code[slot] != code:  # open addressing, linear probing
        slot = (slot + 1) & mask
    return slot


@_jit
def _hash(rem0, rank, lo, radix, shifts):  # pragma: no cover - compiled (tested through hash_vertices)
    n, d1 = rem0.shape
    d = d1 - 1
    # the table starts small (it stays in the cache: neighbouring pixels share vertices, M << N(d+1))
    # and doubles whenever it is half full
    capacity, bits = 4096, 12
    spread, mask = np.uint64(64 - bits), capacity - 1
    table_code = np.full(capacity, -1, np.int64)
    table_index = np.empty(capacity, np.int64)
    codes = np.empty(n * d1, np.int64)  # the lattice points, in the order they were first met
    vertex = np.empty((n, d1), np.int64)
    m = 0
    for p in range(n):
        if p > 0:  # neighbouring pixels mostly share their simplex: then they share its vertices
            same = True
            for k in range(d):
                if rem0[p, k] != rem0[p - 1, k] or rank[p, k] != rank[p - 1, k]:
                    same = False
                    break
            if same:
                for r in range(d1):
                    vertex[p, r] = vertex[p - 1, r]
                continue
        for r in range(d1):
            # vertex r of the simplex: rem0 + r on every coordinate, minus d+1 where rank > d - r
            code = np.int64(0)
            for k in range(d):
                key = rem0[p, k] + r - (d1 if rank[p, k] > d - r else 0)
                code += (key - lo[k]) * radix[k]
            slot = _lookup(table_code, code, spread, mask)
            if table_code[slot] == -1:
                table_code[slot] = code
                table_index[slot] = m
                codes[m] = code
                vertex[p, r] = m
                m += 1
                if 2 * m > capacity:
                    capacity, bits = 2 * capacity, bits + 1
                    spread, mask = np.uint64(64 - bits), capacity - 1
                    table_code = np.full(capacity, -1, np.int64)
                    table_index = np.empty(capacity, np.int64)
                    for t in range(m):
                        new = _lookup(table_code, codes[t], spread, mask)
                        table_code[new] = codes[t]
                        table_index[new] = t
            else:
                vertex[p, r] = table_index[slot]
    # number the lattice points in the order of their codes (as the tensor build does): row 0 is "missing"
    order = np.argsort(codes[:m], kind="mergesort")
    row_of = np.empty(m, np.int64)
    for t in range(m):
        row_of[order[t]] = t + 1
    sorted_codes = codes[:m][order]
    offsets = np.empty((n, d1), np.int64)
    offsets32 = np.empty((n, d1), np.int32)  # the slice matrix's columns (MKL takes 32-bit indices as they are)
    for p in range(n):
        for r in range(d1):
            offsets[p, r] = row_of[vertex[p, r]]
            offsets32[p, r] = offsets[p, r]
    # the blur's neighbours along each lattice direction j: code + shift[j] and code - shift[j]
    neighbours = np.zeros((2 * d1, m), np.int64)
    for t in range(m):
        for j in range(2 * d1):
            code = sorted_codes[t] + shifts[j] if j < d1 else sorted_codes[t] - shifts[j - d1]
            slot = _lookup(table_code, code, spread, mask)
            if table_code[slot] == code:
                neighbours[j, t] = row_of[table_index[slot]]
    # the splat matrix (rows = lattice points, row 0 empty) in CSR: a counting sort of the (point, vertex) pairs
    crow = np.zeros(m + 2, np.int32)  # 32-bit: the caller keeps N(d+1) < 2^31
    for p in range(n):
        for r in range(d1):
            crow[offsets[p, r] + 1] += 1
    for t in range(1, m + 2):
        crow[t] += crow[t - 1]
    fill = crow[:-1].copy()
    splat_points = np.empty(n * d1, np.int32)
    splat_slot = np.empty(n * d1, np.int64)  # where each (point, vertex) pair lands, for the weights
    for p in range(n):
        for r in range(d1):
            row = offsets[p, r]
            splat_points[fill[row]] = p
            splat_slot[fill[row]] = p * d1 + r
            fill[row] += 1
    return sorted_codes, offsets, offsets32, neighbours, crow, splat_points, splat_slot


def hash_vertices(
    rem0: np.ndarray, rank: np.ndarray, lo: np.ndarray, radix: np.ndarray, shifts: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Hash every point's d+1 vertices (codes ``sum_k (key_k - lo_k) radix_k``) into one table.

    Returns the lattice points' codes (sorted), each point's vertex rows (N x (d+1), 1..M; also as int32), the blur's
    neighbour rows (2(d+1) x M: ``+shift_j`` then ``-shift_j``; 0 where missing) and the splat CSR
    (``crow``, the point of each entry, and the flat (point, vertex) index of each entry).
    """
    return _hash(rem0, rank, lo.astype(np.int64), radix.astype(np.int64), shifts.astype(np.int64))


@_jit
def _filter(offsets, w_splat, w_slice, neighbours, values, m, reverse):  # pragma: no cover - compiled
    n, d1 = offsets.shape
    c = values.shape[1]
    table = np.zeros((m + 1, c), np.float32)  # row 0: the zero "missing neighbour"
    for p in range(n):  # splat
        for r in range(d1):
            row, w = offsets[p, r], w_splat[p, r]
            for k in range(c):
                table[row, k] += w * values[p, k]
    other = np.zeros((m + 1, c), np.float32)
    for step in range(d1):  # blur with [1/2, 1, 1/2] along each lattice direction
        j = d1 - 1 - step if reverse else step
        for t in range(1, m + 1):
            n1, n2 = neighbours[j, t - 1], neighbours[d1 + j, t - 1]
            for k in range(c):
                other[t, k] = table[t, k] + np.float32(0.5) * (table[n1, k] + table[n2, k])
        table, other = other, table
    out = np.zeros((n, c), np.float32)
    for p in range(n):  # slice
        for r in range(d1):
            row, w = offsets[p, r], w_slice[p, r]
            for k in range(c):
                out[p, k] += w * table[row, k]
    return out


def filter_values(
    offsets: np.ndarray,
    w_splat: np.ndarray,
    w_slice: np.ndarray,
    neighbours: np.ndarray,
    values: np.ndarray,
    m: int,
    reverse: bool = False,
) -> np.ndarray:
    """Splat ``values`` (N x C) with weights ``w_splat`` (N x (d+1)), blur, slice with ``w_slice``: the loops of
    the C++ code. Faster than the sparse matrix products once there are more than a few labels."""
    return _filter(offsets, w_splat, w_slice, neighbours, np.ascontiguousarray(values, dtype=np.float32), m, reverse)


def warm_up() -> None:
    """Compile every loop of this module once (or load it from numba's cache), on a tiny lattice.

    The first compilation takes tens of seconds; numba caches the result next to this file (or in
    ``NUMBA_CACHE_DIR``), so later processes load it in well under a second. The grader calls this once
    and copies the cache into every child (their ``src/`` is read-only).
    """
    import torch

    from .permutohedral import COMPILED_FILTER_MIN_LABELS, PermutohedralLattice

    lattice = PermutohedralLattice(torch.rand(32, 2, generator=torch.Generator().manual_seed(0)), build="compiled")
    lattice.normalize_symmetric()
    lattice.filter(torch.ones(32, COMPILED_FILTER_MIN_LABELS + 1))
