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

The lattice is built once per image (:class:`PermutohedralLattice`); every
mean-field iteration then only filters. Two ways to filter, tested equal:
``sparse=False`` is the teaching version (``index_add_`` to splat, gathers to
blur and slice, as in the paper); the default on CPU and CUDA stores splat,
blur and slice as three sparse (CSR) matrices and filters all labels with
sparse matrix products. Building the lattice is the expensive part: neighbouring
pixels mostly fall into the same simplex, so the vertices are hashed once per
distinct simplex rather than once per pixel.

The result approximates ``sum_j exp(-|f_i - f_j|^2 / 2) v_j`` up to a global
scale (the CRF normalises the kernel, so the scale cancels) and a slightly
different shape; :func:`src.crf.dense_crf` with ``method="exact"`` computes the
true Gaussian sum for comparison.
"""

from __future__ import annotations

import math
import warnings

import torch

from . import _lattice_numba
from .i18n import bad_argument

__all__ = ["COMPILED_FILTER_MIN_LABELS", "PermutohedralLattice"]

#: with the compiled build, :meth:`PermutohedralLattice.filter` uses the compiled loops for more than this many
#: value columns (labels); for fewer, the sparse matrix products are faster (measured at 320x240: 5 and 21 labels)
COMPILED_FILTER_MIN_LABELS = 8


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if col.device.type == "cuda":  # cuSPARSE wants the columns of each row sorted; the CPU kernels do not
        rows = torch.repeat_interleave(torch.arange(size[0], device=col.device), crow.diff(), output_size=col.numel())
        order = torch.argsort(rows * size[1] + col)
        col, values = col[order], values[order]
    if col.numel() < 2**31:  # 32-bit indices: MKL takes them as they are (64-bit ones are converted every call)
        crow, col = crow.int(), col.int()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": we only use CSR @ dense
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


def _exclusive_cumsum(x: torch.Tensor) -> torch.Tensor:
    return torch.cumsum(x, 0) - x


def _elevate(features: torch.Tensor) -> torch.Tensor:
    """Map N x d features onto the plane ``sum(x) = 0`` of R^(d+1), scaled (Adams et al. 2010, p. 5) -> (d+1) x N.

    Coordinate-major (one row per lattice coordinate), as every step of the build below: each operation then
    runs over long contiguous rows of N values. The loop is the C++ one (over the d coordinates, not pixels).
    """
    n, d = features.shape
    f = features.T.contiguous()
    inv_std_dev = math.sqrt(2.0 / 3.0) * (d + 1)
    elevated = f.new_empty(d + 1, n)
    running = f.new_zeros(n)  # sum of the scaled coordinates after i
    for i in range(d, 0, -1):
        scaled = f[i - 1] * (inv_std_dev / math.sqrt(i * (i + 1)))
        elevated[i] = running - i * scaled
        running = running + scaled
    elevated[0] = running
    return elevated


def _enclosing_simplex(elevated: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The simplex that holds each elevated point ((d+1) x N): its remainder-0 vertex ``rem0`` and its ``rank``.

    As in the C++ code: round each coordinate to the nearest multiple of d+1, rank the residuals (largest
    first; ties: the lower coordinate ranks first), and bring the point back onto the plane when the rounding
    left it off.
    """
    d1 = elevated.shape[0]
    v = elevated * (1.0 / d1)
    up, down = torch.ceil(v) * d1, torch.floor(v) * d1
    rem0 = torch.where(up - elevated < elevated - down, up, down)
    total = torch.round(rem0.sum(0) * (1.0 / d1)).to(torch.int32)  # how far off the plane, in units of d+1
    residual = elevated - rem0
    rank = total.expand(d1, -1).clone()
    for i in range(d1):  # the C++ double loop over coordinate pairs, each step over all points at once
        for j in range(i + 1, d1):
            lower = residual[i] < residual[j]
            rank[i] += lower
            rank[j] += ~lower
    neg, big = rank < 0, rank >= d1
    rank = rank + d1 * (neg.to(torch.int32) - big.to(torch.int32))
    rem0 = rem0 + d1 * (neg.float() - big.float())
    return rem0, rank.long()


def _barycentric(elevated: torch.Tensor, rem0: torch.Tensor, rank: torch.Tensor) -> torch.Tensor:
    """Barycentric coordinates of each point in its simplex, (d+1) x N (Adams et al. 2010, p. 10).

    The C++ code adds each coordinate's residual ``v_i = (elevated_i - rem0_i) / (d+1)`` to ``b[d - rank_i]`` and
    subtracts it from ``b[d - rank_i + 1]``. The ranks are a permutation, so with ``s[j]`` the residual of rank
    ``d - j``: ``b[k] = s[k] - s[k-1]`` and ``b[0] = s[0] + (1 - s[d])`` (the same float operations).
    """
    d1 = elevated.shape[0]
    vals = (elevated - rem0) * (1.0 / d1)
    by_rank = torch.empty_like(vals).scatter_(0, (d1 - 1) - rank, vals)  # row j: the residual of rank d - j
    bary = torch.empty_like(vals)
    torch.sub(by_rank[1:], by_rank[:-1], out=bary[1:])
    bary[0] = by_rank[0] + (1.0 - by_rank[-1])
    return bary


class PermutohedralLattice:
    """A lattice built once for ``features`` (N x d); :meth:`filter` then blurs any N x C values."""

    def __init__(
        self, features: torch.Tensor, sparse: bool | None = None, group_simplices: bool = True, build: str = "auto"
    ) -> None:
        """``sparse``: filter with CSR matrix products (default on CPU and CUDA) or plain indexing (any device).

        ``group_simplices``: hash each distinct simplex once (fast); ``False`` hashes every point's d+1
        vertices (the plain way; the same lattice, kept to test the fast one).

        ``build``: ``"tensor"`` builds the lattice with the tensor operations below (the teaching path, any
        device); ``"compiled"`` with one hash-table pass over the pixels compiled by numba
        (:mod:`src._lattice_numba`, as the C++ code does; CPU); ``"auto"`` (default) takes the compiled build
        on the CPU when numba is installed. Both give the same lattice.
        """
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
        if build not in ("auto", "tensor", "compiled"):
            raise bad_argument(
                "PermutohedralLattice",
                "build",
                "'auto', 'tensor' hoặc 'compiled'",
                "'auto', 'tensor' or 'compiled'",
                build,
            )
        dev = features.device
        self.n, self.d = n, d
        compiled = dev.type == "cpu" and _lattice_numba.available() and group_simplices and n * (d + 1) < 2**31
        if build == "compiled" and not compiled:
            raise bad_argument(
                "PermutohedralLattice",
                "build",
                "'compiled' cần numba và tensor trên CPU",
                "'compiled' needs numba and CPU tensors",
                f"{build!r} on {dev.type}, numba {'found' if _lattice_numba.available() else 'missing'}",
            )
        self.build = "compiled" if compiled and build != "tensor" else "tensor"
        # set by the compiled build only: 32-bit vertex rows, the blur neighbours as one array, and the
        # compiled filter's weights for the current scale
        self._offsets32: torch.Tensor | None = None
        self._neighbours_np = None
        self._loop_weights: tuple | None = None
        if self.build == "compiled":
            self._build_compiled(features)
        else:
            self._build_tensor(features, group_simplices)
        self.alpha = 1.0 / (1.0 + 2.0 ** (-d))
        self.scale: torch.Tensor | None = None
        self.sparse = dev.type in ("cpu", "cuda") if sparse is None else bool(sparse)
        self._splat_slice: tuple[torch.Tensor, torch.Tensor] | None = None  # built when first needed
        if self.sparse:
            self._build_sparse()

    def _radix(self, rem0_i: torch.Tensor, rank: torch.Tensor, features: torch.Tensor) -> float:
        """Mixed-radix digits for the keys (d x N remainder-0 coordinates): sets ``_lo``, ``_radix``; returns the
        number of bits a key needs (an error when they do not fit an int64)."""
        d, d1 = self.d, self.d + 1
        lo = rem0_i.min(1).values - 2 * d1
        spans = [int(v) for v in (rem0_i.max(1).values + 2 * d1 - lo + 1).tolist()]
        bits = sum(math.log2(v) for v in spans)
        if bits > 62 or rank.min() < 0 or rank.max() > d:  # keys too wide for int64, or float32 ran out of digits
            raise bad_argument(
                "PermutohedralLattice",
                "features",
                "khoảng giá trị nhỏ hơn (hãy tăng các θ)",
                "a smaller range of values (increase the thetas)",
                features,
            )
        radix = torch.ones(d, dtype=torch.long, device=rem0_i.device)
        for k in range(d - 2, -1, -1):
            radix[k] = radix[k + 1] * spans[k + 1]
        self._lo, self._radix = lo, radix
        return bits

    def _shifts(self) -> torch.Tensor:
        """Blur neighbours along lattice direction j: key - 1 (+ d+1 on coordinate j) and the opposite. The codes
        are linear in the keys, so a neighbour's code is the vertex's code plus a fixed shift per direction."""
        radix = self._radix
        return (self.d + 1) * torch.cat([radix, radix.new_zeros(1)]) - radix.sum()

    def _build_compiled(self, features: torch.Tensor) -> None:
        """The same lattice as :meth:`_build_tensor`, from two compiled loops over the pixels."""
        d, d1 = self.d, self.d + 1
        rem0, rank, bary = _lattice_numba.enclosing_simplices(features.detach().float().numpy())
        rem0_t, rank_t = torch.from_numpy(rem0), torch.from_numpy(rank)
        self._radix(rem0_t[:, :d].T, rank_t, features)
        codes, offsets, offsets32, neighbours, crow, points, slots = _lattice_numba.hash_vertices(
            rem0, rank, self._lo.numpy(), self._radix.numpy(), self._shifts().numpy()
        )
        self.barycentric = torch.from_numpy(bary)
        self.m = int(codes.shape[0])
        self._codes = torch.from_numpy(codes)
        self.offsets = torch.from_numpy(offsets)
        self._offsets32 = torch.from_numpy(offsets32)
        found = torch.from_numpy(neighbours)
        self.neighbours = [(found[j], found[d1 + j]) for j in range(d1)]
        self._neighbours_np = neighbours  # 2(d+1) x M, for the compiled filter
        self._splat_points = torch.from_numpy(points)
        self._splat_bary = self.barycentric.reshape(-1)[torch.from_numpy(slots)]
        self._splat_crow = torch.from_numpy(crow)

    def _build_tensor(self, features: torch.Tensor, group_simplices: bool) -> None:
        """Build the lattice with whole-tensor operations (any device): the steps of the C++ code, vectorised."""
        n, d, d1, dev = self.n, self.d, self.d + 1, features.device
        elevated = _elevate(features.float())  # all (d+1) x N: one row per lattice coordinate
        rem0, rank = _enclosing_simplex(elevated)

        # Keys: vertex r of a point's simplex is rem0 + canonical[r][rank] on the first d coordinates, with
        # canonical[r][rank] = r - (d+1) [rank > d - r]. Each key is hashed to one int64 (mixed radix, with
        # room for the neighbours' offsets), computed without building the N x (d+1) x d keys.
        rem0_i = rem0[:d].long()  # d x N
        rank_d = rank[:d]
        bits = self._radix(rem0_i, rank, features)
        lo, radix = self._lo, self._radix
        self.barycentric = _barycentric(elevated, rem0, rank).T.contiguous()  # N x (d+1)
        base = ((rem0_i - lo[:, None]) * radix[:, None]).sum(0)  # N: the code of the remainder-0 vertex

        # Points of one simplex share (base, rank): group them, and hash each distinct simplex once.
        if group_simplices and bits + d * math.log2(d1) <= 62:
            digits = d1 ** torch.arange(d, device=dev)
            simplex_code = base * d1**d + (rank_d * digits[:, None]).sum(0)
            sorted_simplex, point_order = torch.sort(simplex_code)
            _, simplex_sorted, per_simplex = torch.unique_consecutive(
                sorted_simplex, return_inverse=True, return_counts=True
            )
            point_simplex = torch.empty_like(simplex_sorted).scatter_(0, point_order, simplex_sorted)  # N
            first = _exclusive_cumsum(per_simplex)  # start of each simplex in point_order
            representative = point_order[first]
        else:  # every point its own simplex
            point_order = point_simplex = representative = torch.arange(n, device=dev)
            per_simplex, first = torch.ones(n, dtype=torch.long, device=dev), torch.arange(n, device=dev)
        s = representative.shape[0]
        # code of vertex r = base + r * sum(radix) - (d+1) * sum of radix[k] over the k with rank[k] > d - r:
        # place radix[k] at position rank[k] (coordinate d has radix 0), then that sum is a running sum
        # over the ranks from d down to d - r + 1.
        by_rank = torch.zeros(s, d1, dtype=torch.long, device=dev)
        by_rank.scatter_(
            1, rank.index_select(1, representative).T, torch.cat([radix, radix.new_zeros(1)]).expand(s, -1)
        )
        above = by_rank.flip(1).cumsum(1)  # column t: sum over the ranks d - t .. d
        codes = base[representative][:, None] + torch.arange(d1, device=dev) * radix.sum()
        codes[:, 1:] -= d1 * above[:, :d]  # S x (d+1)

        # One sort gives the lattice points (unique codes) and the (simplex, vertex) pairs grouped by vertex.
        sorted_codes, pair_order = torch.sort(codes.reshape(-1))
        unique, vertex_sorted, per_vertex = torch.unique_consecutive(
            sorted_codes, return_inverse=True, return_counts=True
        )
        self.m = int(unique.shape[0])
        self._codes = unique
        # Row 0 of the lattice value table is a zero "missing neighbour"; lattice points start at 1.
        simplex_vertex = torch.empty_like(vertex_sorted).scatter_(0, pair_order, vertex_sorted + 1).view(s, d1)
        self.offsets = simplex_vertex[point_simplex]  # N x (d+1)

        # The splat matrix (rows = vertices) lists, vertex by vertex, each of its (simplex, vertex) pairs with
        # that simplex's points in point_order: where does the entry (point i, its vertex r) go?
        pair_points = per_simplex.repeat_interleave(d1)[pair_order]  # points of the pair's simplex
        pair_start = torch.empty_like(pair_points).scatter_(0, pair_order, _exclusive_cumsum(pair_points))
        within = torch.empty_like(point_order).scatter_(0, point_order, torch.arange(n, device=dev))
        within = within - first[point_simplex]  # index of each point inside its simplex
        position = (pair_start.view(s, d1)[point_simplex] + within[:, None]).view(-1)  # N x (d+1), flattened
        points = torch.arange(n, device=dev).repeat_interleave(d1)
        self._splat_points = torch.empty_like(points).scatter_(0, position, points)
        self._splat_bary = torch.empty_like(self.barycentric.view(-1)).scatter_(0, position, self.barycentric.view(-1))
        entries = per_vertex.new_zeros(self.m + 2)  # row 0 (no point), then one row per vertex
        entries[2:] = per_vertex.new_zeros(self.m).index_add_(0, vertex_sorted, pair_points)
        self._splat_crow = torch.cumsum(entries, 0)

        shifts = self._shifts()  # d+1
        found = self._find(torch.cat([unique[None] + shifts[:, None], unique[None] - shifts[:, None]], 0))
        self.neighbours = [(found[j], found[d1 + j]) for j in range(d1)]

    @property
    def splat_csr(self) -> torch.Tensor:
        """The splat matrix (M+1 x N, CSR), scaled by :meth:`normalize_symmetric` once it has run."""
        if self._splat_slice is None:
            self._set_scale(self.scale)
        return self._splat_slice[0]

    @property
    def slice_csr(self) -> torch.Tensor:
        """The slice matrix (N x M+1, CSR): row i holds point i's d+1 vertices, its barycentric weights * alpha."""
        if self._splat_slice is None:
            self._set_scale(self.scale)
        return self._splat_slice[1]

    def _build_sparse(self) -> None:
        """Blur (d+1 of M+1 x M+1) as CSR matrices; splat (M+1 x N) and slice (N x M+1) follow when first used."""
        m, dev = self.m, self.offsets.device
        # blur: row r = value(r) + (value(n1) + value(n2)) / 2; a missing neighbour is row 0, always zero
        crow = torch.cat([torch.zeros(1, dtype=torch.long, device=dev), torch.arange(0, 3 * m + 1, 3, device=dev)])
        rows = torch.arange(1, m + 1, device=dev)
        weight = torch.tensor([0.5, 1.0, 0.5], device=dev).repeat(m)
        self.blur_csr = [
            _csr(crow, torch.stack([n1, rows, n2], 1).reshape(-1), weight, (m + 1, m + 1)) for n1, n2 in self.neighbours
        ]

    def _set_scale(self, scale: torch.Tensor | None) -> None:
        """Multiply the values by ``scale`` (N) before splatting and after slicing (the CRF's normalisation)."""
        n, d1, m, dev = self.n, self.d + 1, self.m, self.offsets.device
        # slice: row i holds the d+1 vertices of point i
        weights = self.barycentric * self.alpha if scale is None else self.barycentric * (self.alpha * scale[:, None])
        crow = torch.arange(0, n * d1 + 1, d1, device=dev, dtype=torch.int32 if n * d1 < 2**31 else torch.long)
        columns = self.offsets if self._offsets32 is None else self._offsets32
        slice_csr = _csr(crow, columns.reshape(-1), weights.reshape(-1), (n, m + 1))
        # splat: its transpose, the entries listed vertex by vertex
        values = self._splat_bary if scale is None else self._splat_bary * scale[self._splat_points]
        self._splat_slice = (_csr(self._splat_crow, self._splat_points, values, (m + 1, n)), slice_csr)

    def _filter_compiled(self, values: torch.Tensor, reverse: bool):
        """Splat, blur and slice with the compiled loops (:func:`src._lattice_numba.filter_values`)."""
        if self._loop_weights is None or self._loop_weights[0] is not self.scale:
            scale = None if self.scale is None else self.scale[:, None]
            w_splat = self.barycentric if scale is None else self.barycentric * scale
            w_slice = self.barycentric * self.alpha if scale is None else self.barycentric * (self.alpha * scale)
            self._loop_weights = (self.scale, w_splat.contiguous().numpy(), w_slice.contiguous().numpy())
        _, w_splat, w_slice = self._loop_weights
        return _lattice_numba.filter_values(
            self._offsets32.numpy(), w_splat, w_slice, self._neighbours_np, values.numpy(), self.m, reverse
        )

    def keys(self) -> torch.Tensor:
        """The lattice points' integer keys (first d coordinates), M x d, in the order of the value table."""
        out = []
        rest = self._codes
        for k in range(self.d):
            out.append(rest // self._radix[k])
            rest = rest % self._radix[k]
        return torch.stack(out, 1) + self._lo

    def _find(self, codes: torch.Tensor) -> torch.Tensor:
        """Row of each code in the value table (1..M), or 0 when the lattice has no such point."""
        pos = torch.searchsorted(self._codes, codes).clamp(max=self.m - 1)
        return torch.where(self._codes[pos] == codes, pos + 1, torch.zeros_like(pos))

    def normalize_symmetric(self) -> None:
        """From now on :meth:`filter` computes ``D^-1/2 K D^-1/2 v`` with ``D = K 1`` (pydensecrf's default)."""
        self.scale = None  # D is the raw kernel's row sums (calling this twice gives the same scale)
        if self.sparse:  # K 1 without the unscaled splat and slice matrices: they are built once, scaled, below
            table = torch.zeros(self.m + 1, device=self.offsets.device)
            table.index_add_(0, self.offsets.reshape(-1), self.barycentric.reshape(-1))
            table = table[:, None]
            for blur in self.blur_csr:
                table = blur @ table
            norm = (table[:, 0][self.offsets] * self.barycentric).sum(1) * self.alpha
        else:
            norm = self.filter(torch.ones(self.n, 1, device=self.offsets.device))[:, 0]
        self.scale = (norm + 1e-20).rsqrt()
        self._splat_slice = None

    def filter(self, values: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        """Splat, blur and slice ``values`` (N x C); returns N x C (approximate Gaussian sums)."""
        if not isinstance(values, torch.Tensor) or values.dim() != 2 or values.shape[0] != self.n:
            raise bad_argument(
                "PermutohedralLattice.filter", "values", f"một tensor {self.n} x C", f"an {self.n} x C tensor", values
            )
        values = values.float().contiguous()
        if self.build == "compiled" and values.shape[1] > COMPILED_FILTER_MIN_LABELS and not values.requires_grad:
            return torch.from_numpy(self._filter_compiled(values, reverse))
        if self.sparse:
            table = self.splat_csr @ values
            for blur in reversed(self.blur_csr) if reverse else self.blur_csr:
                table = blur @ table
            return self.slice_csr @ table
        if self.scale is not None:  # the teaching path: index_add_ to splat, gathers to blur and slice
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
