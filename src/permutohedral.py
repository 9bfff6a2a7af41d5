"""The permutohedral lattice: fast high-dimensional Gaussian filtering, in PyTorch (lesson 04).

Adams, Baek & Davis, "Fast High-Dimensional Filtering Using the Permutohedral
Lattice" (Eurographics 2010) — the filter that the fully-connected CRF of
Krähenbühl & Koltun (arXiv 1210.5644) uses for its message passing, and that
:func:`src.crf.dense_crf` uses on its fast path.

Every point (a pixel with its feature vector, e.g. ``(x/θα, y/θα, r/θβ, g/θβ, b/θβ)``)
is *splatted* onto the d+1 vertices of the lattice simplex that contains it
(barycentric weights), the lattice values are *blurred* with a ``[1/2, 1, 1/2]``
stencil along each of the d+1 lattice directions, and the result is *sliced*
back at the points. The cost is linear in the number of pixels instead of
quadratic. This module follows the steps of Krähenbühl's C++ implementation
(the one shipped in pydensecrf) one to one, vectorised with tensor operations,
so the two give the same numbers up to float rounding; it runs on any device.

The result approximates ``sum_j exp(-|f_i - f_j|^2 / 2) v_j`` up to a global
scale (the CRF normalises the kernel, so the scale cancels) and a slightly
different shape; :func:`src.crf.dense_crf` with ``method="exact"`` computes the
true Gaussian sum for comparison.
"""

from __future__ import annotations

import math
import warnings

import torch

from .i18n import bad_argument

__all__ = ["PermutohedralLattice"]


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    with warnings.catch_warnings():  # "sparse CSR support is in beta": we only use CSR @ dense
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


class PermutohedralLattice:
    """A lattice built once for ``features`` (N x d); :meth:`filter` then blurs any N x C values."""

    def __init__(self, features: torch.Tensor, sparse: bool | None = None) -> None:
        """``sparse``: use CSR matrix products (default on CPU and CUDA) or plain indexing (any device)."""
        if not isinstance(features, torch.Tensor) or features.dim() != 2 or not features.is_floating_point():
            raise bad_argument(
                "PermutohedralLattice",
                "features",
                "một tensor số thực N x d",
                "a floating-point N x d tensor",
                features,
                TypeError,
            )
        n, d = features.shape
        if n == 0 or d == 0:
            raise bad_argument("PermutohedralLattice", "features", "N >= 1 và d >= 1", "N >= 1 and d >= 1", features)
        dev = features.device
        f = features.float()
        d1 = d + 1
        self.n, self.d = n, d

        # Elevate onto the hyperplane sum(x) = 0 of R^(d+1) (Adams et al. 2010, p. 5).
        inv_std_dev = math.sqrt(2.0 / 3.0) * d1
        scale = torch.tensor(
            [inv_std_dev / math.sqrt((i + 2) * (i + 1)) for i in range(d)], dtype=torch.float32, device=dev
        )
        cf = f * scale  # N x d
        # elevated[j] = sum_{k >= j} cf[k] - j * cf[j-1] (j >= 1), elevated[0] = sum(cf)
        suffix = torch.flip(torch.cumsum(torch.flip(cf, [1]), 1), [1])  # suffix[:, k] = sum_{m >= k} cf[m]
        elevated = torch.empty(n, d1, dtype=torch.float32, device=dev)
        elevated[:, 0] = suffix[:, 0]
        j = torch.arange(1, d1, device=dev, dtype=torch.float32)
        after = torch.cat([suffix[:, 1:], torch.zeros(n, 1, device=dev)], 1)  # sum_{m >= j} cf[m]
        elevated[:, 1:] = after - j * cf

        # Closest remainder-0 lattice point, by rounding each coordinate to a multiple of d+1.
        v = elevated / d1
        up, down = torch.ceil(v) * d1, torch.floor(v) * d1
        rem0 = torch.where(up - elevated < elevated - down, up, down)
        total = torch.round(rem0.sum(1) / d1).long()  # N

        # Rank of each coordinate of the residual, largest first (ties: the lower index ranks first).
        diff = elevated - rem0
        idx = torch.arange(d1, device=dev)
        rank = torch.zeros(n, d1, dtype=torch.long, device=dev)
        for k in range(d1):  # rank[i] = #{k: diff_k > diff_i} + #{k < i: diff_k == diff_i}
            other = diff[:, k : k + 1]
            rank += (other > diff) | ((other == diff) & (idx > k))
        rank = rank + total.unsqueeze(1)
        neg, big = rank < 0, rank > d
        rank = torch.where(neg, rank + d1, torch.where(big, rank - d1, rank))
        rem0 = torch.where(neg, rem0 + d1, torch.where(big, rem0 - d1, rem0))

        # Barycentric coordinates (p. 10).
        vals = (elevated - rem0) / d1
        bary = torch.zeros(n, d + 2, dtype=torch.float32, device=dev)
        bary.scatter_add_(1, d - rank, vals)
        bary.scatter_add_(1, d - rank + 1, -vals)
        bary[:, 0] += 1.0 + bary[:, d1]
        self.barycentric = bary[:, :d1].contiguous()  # N x (d+1)

        # The d+1 vertices of each point's simplex: key = rem0 + canonical[remainder][rank] on the first d
        # coordinates, canonical[r][rank] = r - (d+1) [rank > d - r]. Each key is hashed to one int64 (mixed
        # radix, with room for the neighbours' offsets), computed without building the N x (d+1) x d keys.
        rem0_i = rem0.long()[:, :d]  # N x d
        rank_d = rank[:, :d]
        lo = rem0_i.min(0).values - 2 * d1
        spans = [int(v) for v in (rem0_i.max(0).values + 2 * d1 - lo + 1).tolist()]
        if sum(math.log2(v) for v in spans) > 62:
            raise bad_argument(
                "PermutohedralLattice",
                "features",
                "khoảng giá trị nhỏ hơn (hãy tăng các θ)",
                "a smaller range of values (increase the thetas)",
                features,
            )
        radix = torch.ones(d, dtype=torch.long, device=dev)
        for k in range(d - 2, -1, -1):
            radix[k] = radix[k + 1] * spans[k + 1]
        self._lo, self._radix = lo, radix
        base = ((rem0_i - lo) * radix).sum(1)  # N
        by_rank = torch.zeros(n, d1 + 1, dtype=torch.long, device=dev).scatter_add_(1, rank_d, radix.expand(n, d))
        above = torch.flip(torch.cumsum(torch.flip(by_rank, [1]), 1), [1])  # above[t] = sum over rank >= t
        remainder = torch.arange(d1, device=dev)
        codes = base[:, None] + remainder * radix.sum() - d1 * above[:, d + 1 - remainder]  # N x (d+1)

        # One sort gives the lattice points (unique codes) and the splat order (points grouped by vertex).
        sorted_codes, perm = torch.sort(codes.reshape(-1), stable=True)
        unique, counts = torch.unique_consecutive(sorted_codes, return_counts=True)
        self.m = int(unique.shape[0])
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.repeat_interleave(torch.arange(self.m, device=dev), counts)
        self._perm, self._counts = perm, counts
        # Row 0 of the lattice value table is a zero "missing neighbour"; lattice points start at 1.
        self.offsets = (inverse.view(n, d1) + 1).contiguous()

        # Blur neighbours along each lattice direction j: n1 = key - 1 (+d+1 on coordinate j), n2 = -n1 offset.
        ukeys = self._decode(unique)
        neighbours = []
        for jdir in range(d1):
            delta = torch.full((d,), -1, dtype=torch.long, device=dev)
            if jdir < d:
                delta[jdir] = d
            neighbours.append((self._find(ukeys + delta, unique), self._find(ukeys - delta, unique)))
        self.neighbours = neighbours
        self.alpha = 1.0 / (1.0 + 2.0 ** (-d))
        self.scale: torch.Tensor | None = None
        # On CPU and CUDA the three steps are sparse (CSR) matrix products: much faster than indexing.
        self.sparse = dev.type in ("cpu", "cuda") if sparse is None else bool(sparse)
        if self.sparse:
            self._build_sparse()

    def _build_sparse(self) -> None:
        """Splat (M+1 x N), blur (d+1 of M+1 x M+1) and slice (N x M+1) as CSR matrices."""
        n, d1, m, dev = self.n, self.d + 1, self.m, self.offsets.device
        # slice: row i holds the d+1 vertices of point i (cuSPARSE wants sorted columns; the CPU kernels do not)
        cols, vals = self.offsets, self.barycentric * self.alpha
        if dev.type == "cuda":
            cols, perm = torch.sort(cols, dim=1)
            vals = vals.gather(1, perm)
        crow = torch.arange(0, n * d1 + 1, d1, device=dev)
        self._slice = (crow, cols.reshape(-1), vals.reshape(-1), torch.arange(n, device=dev).repeat_interleave(d1))
        # splat: the transpose, grouped by lattice vertex
        crow = torch.cat([self._counts.new_zeros(2), torch.cumsum(self._counts, 0)])  # row 0: no point
        points = torch.div(self._perm, d1, rounding_mode="floor")
        self._splat = (crow, points, self.barycentric.reshape(-1)[self._perm], points)
        self._set_scale(None)
        # blur: row r = value(r) + (value(n1) + value(n2)) / 2, missing neighbours (row 0) dropped
        self.blur_csr = []
        rows = torch.arange(1, m + 1, device=dev)
        for n1, n2 in self.neighbours:
            cand = torch.stack([n1, rows, n2], 1)
            weight = torch.tensor([0.5, 1.0, 0.5], device=dev).expand(m, 3)
            cand, perm = torch.sort(cand, dim=1)
            weight = weight.gather(1, perm)
            keep = cand > 0
            counts = torch.cat([torch.zeros(2, dtype=torch.long, device=dev), keep.sum(1)])  # rows 0 (none) .. m
            crow = torch.cumsum(counts, 0)
            self.blur_csr.append(_csr(crow, cand[keep], weight[keep], (m + 1, m + 1)))

    def _set_scale(self, scale: torch.Tensor | None) -> None:
        """Multiply the values by ``scale`` (N) before splatting and after slicing (the CRF's normalisation)."""
        n, m = self.n, self.m
        crow, col, vals, point = self._slice
        self.slice_csr = _csr(crow, col, vals if scale is None else vals * scale[point], (n, m + 1))
        crow, col, vals, point = self._splat
        self.splat_csr = _csr(crow, col, vals if scale is None else vals * scale[point], (m + 1, n))

    def _decode(self, unique: torch.Tensor) -> torch.Tensor:
        out = []
        rest = unique
        for k in range(self.d):
            out.append(rest // self._radix[k])
            rest = rest % self._radix[k]
        return torch.stack(out, 1) + self._lo

    def _find(self, keys: torch.Tensor, unique: torch.Tensor) -> torch.Tensor:
        """Row of each key in the value table (1..M), or 0 when the lattice has no such point."""
        codes = ((keys - self._lo) * self._radix).sum(1)
        pos = torch.searchsorted(unique, codes).clamp(max=self.m - 1)
        return torch.where(unique[pos] == codes, pos + 1, torch.zeros_like(pos))

    def normalize_symmetric(self) -> None:
        """From now on :meth:`filter` computes ``D^-1/2 K D^-1/2 v`` with ``D = K 1`` (pydensecrf's default)."""
        norm = self.filter(torch.ones(self.n, 1, device=self.offsets.device))[:, 0]
        self.scale = (norm + 1e-20).rsqrt()
        if self.sparse:
            self._set_scale(self.scale)

    def filter(self, values: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        """Splat, blur and slice ``values`` (N x C); returns N x C (approximate Gaussian sums)."""
        if values.dim() != 2 or values.shape[0] != self.n:
            raise bad_argument(
                "PermutohedralLattice.filter", "values", f"một tensor {self.n} x C", f"an {self.n} x C tensor", values
            )
        values = values.float()
        if self.sparse:
            table = self.splat_csr @ values
            for blur in reversed(self.blur_csr) if reverse else self.blur_csr:
                table = blur @ table
            return self.slice_csr @ table
        if self.scale is not None:  # index-based path (other devices)
            values = values * self.scale[:, None]
        c = values.shape[1]
        table = values.new_zeros(self.m + 1, c)
        weighted = values.unsqueeze(1) * self.barycentric.unsqueeze(2)  # N x d1 x C
        table.index_add_(0, self.offsets.reshape(-1), weighted.reshape(-1, c))
        order = range(self.d, -1, -1) if reverse else range(self.d + 1)
        for jdir in order:
            n1, n2 = self.neighbours[jdir]
            new = table[1:] + 0.5 * (table[n1] + table[n2])
            table = torch.cat([table[:1], new], 0)
        out = (table[self.offsets] * self.barycentric.unsqueeze(2)).sum(1) * self.alpha
        return out if self.scale is None else out * self.scale[:, None]
