"""The fully-connected CRF and its mean-field inference, in PyTorch (lesson 04).

Krähenbühl & Koltun, "Efficient Inference in Fully Connected CRFs with Gaussian
Edge Potentials" (NIPS 2011, arXiv 1210.5644), as DeepLab v1/v2 used it to
sharpen upsampled network outputs (Chen et al., arXiv 1412.7062, 1606.00915).

The energy of a labelling x of the N pixels is

    E(x) = sum_i psi_u(x_i) + sum_{i<j} mu(x_i, x_j) k(f_i, f_j),
    psi_u(x_i) = -log P(x_i)                          (the network's softmax),
    k = w1 exp(-|p_i-p_j|^2/2θα^2 - |I_i-I_j|^2/2θβ^2)  (appearance, bilateral)
      + w2 exp(-|p_i-p_j|^2/2θγ^2)                     (smoothness, Gaussian),
    mu = Potts: [x_i != x_j].

Mean-field inference repeats: message passing (filter Q with each kernel),
compatibility transform (Potts), local update (subtract from the unary) and
normalisation (softmax). The semantics follow pydensecrf (``DenseCRF2D`` with
``addPairwiseGaussian(sxy=θγ, compat=w2)``, ``addPairwiseBilateral(sxy=θα,
srgb=θβ, compat=w1)``, ``unary_from_softmax``): features ``(x, y[, r, g, b])``
divided by the θs, kernels with symmetric normalisation
``D^-1/2 K D^-1/2`` where ``D = K 1`` (the pixel itself included, as the lattice
filter includes it), unary = -log(max(p, clip)).

Two filters: ``method="exact"`` builds the dense N x N Gaussian kernel (small
images; the teaching version, O(N^2)); ``method="fast"`` uses the permutohedral
lattice of :mod:`src.permutohedral` (the filter pydensecrf uses, O(N)), which
approximates the Gaussian. ``"auto"`` picks exact up to ``exact_max_pixels``.

Speed (``benchmarks/bench_crf.py``, issue 18): each lattice is built once per
image and every iteration filters all labels at once in the pixels x labels
layout; the smoothness kernel's lattice depends only on the image size and θγ,
so it is cached and reused across images of one size. On the CPU the lattices
are built by compiled loops (:mod:`src._lattice_numba`), and with two or more
torch threads the two lattices are built at the same time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from .i18n import bad_argument, tr
from .permutohedral import PermutohedralLattice
from .registry import register_core

__all__ = [
    "EXACT_MAX_PIXELS",
    "dense_crf",
    "ellipse_prior",
    "gaussian_kernel_matrix",
    "mean_field_step",
    "pixel_features",
    "potts_transform",
    "selfcheck_core",
    "unary_from_probs",
]

#: "auto" uses the exact N x N kernel up to this many pixels (a 64 x 64 image).
EXACT_MAX_PIXELS = 64 * 64
_CHUNK_ELEMENTS = 2**24  # exact path: kernel rows computed this many elements at a time


def pixel_features(image: torch.Tensor, theta_xy: float, theta_rgb: float | None = None) -> torch.Tensor:
    """Per-pixel features ``(x/θxy, y/θxy[, r/θrgb, g/θrgb, b/θrgb])`` of an H x W x 3 image -> N x d.

    Pixels are ordered row by row (index ``y * W + x``), as in pydensecrf's ``DenseCRF2D``.
    """
    h, w = image.shape[:2]
    dev = image.device
    ys, xs = torch.meshgrid(
        torch.arange(h, device=dev, dtype=torch.float32),
        torch.arange(w, device=dev, dtype=torch.float32),
        indexing="ij",
    )
    parts = [xs.reshape(-1, 1) / theta_xy, ys.reshape(-1, 1) / theta_xy]
    if theta_rgb is not None:
        parts.append(image.reshape(-1, 3).float() / theta_rgb)
    return torch.cat(parts, 1)


def gaussian_kernel_matrix(features: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """The dense kernel ``K_ij = exp(-|f_i - f_j|^2 / 2)`` (N x N), symmetrically normalised by default.

    Normalised: ``D^-1/2 K D^-1/2`` with ``D = diag(K 1)``, as pydensecrf's NORMALIZE_SYMMETRIC.
    """
    if not isinstance(features, torch.Tensor) or features.dim() != 2:
        raise bad_argument(
            "gaussian_kernel_matrix", "features", "một tensor N x d", "an N x d tensor", features, TypeError
        )
    f = features.float()
    kernel = torch.exp(-0.5 * torch.cdist(f, f).square())
    if normalize:
        norm = kernel.sum(1).clamp_min(1e-20).rsqrt()
        kernel = norm[:, None] * kernel * norm[None, :]
    return kernel


def potts_transform(messages: torch.Tensor, weight: float) -> torch.Tensor:
    """Compatibility transform for the Potts model ``mu(l, l') = [l != l']``: C x N messages -> C x N energies.

    ``out[l] = weight * sum_{l' != l} messages[l']``. (pydensecrf computes ``-weight * messages[l]``, which
    differs by ``weight * sum_l' messages[l']``, the same for every label: the softmax removes it.)
    """
    return weight * (messages.sum(0, keepdim=True) - messages)


def mean_field_step(
    unary: torch.Tensor, q: torch.Tensor, kernels: Sequence[torch.Tensor], weights: Sequence[float]
) -> torch.Tensor:
    """One mean-field iteration with dense kernels: unary, q are C x N; each kernel N x N (normalised).

    message passing ``m = K q`` per kernel, compatibility transform (Potts, weighted), local update
    ``-unary - pairwise``, normalisation (softmax over labels).
    """
    pairwise = torch.zeros_like(q)
    for kernel, weight in zip(kernels, weights, strict=True):
        messages = q @ kernel.T  # (K q^T)^T: C x N
        pairwise = pairwise + potts_transform(messages, weight)
    return torch.softmax(-unary - pairwise, dim=0)


def unary_from_probs(probs: torch.Tensor, clip: float = 1e-5) -> torch.Tensor:
    """``-log(max(p, clip))``, as ``pydensecrf.utils.unary_from_softmax``."""
    return -torch.log(probs.clamp(min=clip, max=1.0))


def _softmax_labels(energy: torch.Tensor) -> torch.Tensor:
    """Softmax over the labels of N x C energies (dim 1), written out for few labels, where it is faster."""
    if energy.shape[1] > 8:
        return torch.softmax(energy, dim=1)
    e = (energy - energy.amax(1, keepdim=True)).exp_()
    return e.div_(e.sum(1, keepdim=True))


class _ExactFilter:
    """Dense Gaussian filtering, ``D^-1/2 K D^-1/2 v``; kernel rows are built in chunks when N^2 is large."""

    def __init__(self, features: torch.Tensor) -> None:
        self.f = features
        n = features.shape[0]
        self.rows = max(1, _CHUNK_ELEMENTS // n)
        self.cached = gaussian_kernel_matrix(features) if n * n <= _CHUNK_ELEMENTS else None
        if self.cached is None:
            self.norm = self._raw(torch.ones(n, 1, device=features.device)).clamp_min(1e-20).rsqrt()

    def _raw(self, values: torch.Tensor) -> torch.Tensor:
        out = []
        for start in range(0, self.f.shape[0], self.rows):
            block = torch.exp(-0.5 * torch.cdist(self.f[start : start + self.rows], self.f).square())
            out.append(block @ values)
        return torch.cat(out, 0)

    def __call__(self, values: torch.Tensor) -> torch.Tensor:  # N x C
        if self.cached is not None:
            return self.cached @ values
        return self.norm * self._raw(self.norm * values)


class _LatticeFilter:
    """Permutohedral filtering with pydensecrf's symmetric normalisation."""

    def __init__(self, features: torch.Tensor) -> None:
        self.lattice = PermutohedralLattice(features)
        self.lattice.normalize_symmetric()

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        return self.lattice.filter(values)


@functools.lru_cache(maxsize=8)
def _gaussian_lattice(height: int, width: int, theta_gamma: float, device: torch.device) -> _LatticeFilter:
    """The smoothness kernel's lattice: its features ``(x/θγ, y/θγ)`` do not depend on the colours, only on the
    image size, so it is built once per ``(H, W, θγ, device)`` and reused (``_gaussian_lattice.cache_clear()``)."""
    grid = torch.zeros(height, width, 3, dtype=torch.uint8, device=device)
    return _LatticeFilter(pixel_features(grid, theta_gamma))


def _gaussian_lattice_soon(
    height: int, width: int, theta_gamma: float, device: torch.device, overlap: bool
) -> Callable[[], _LatticeFilter]:
    """The smoothness kernel's lattice, as a callable that returns it. On a CPU with more than one torch thread,
    when it is not cached and another lattice is to be built (``overlap``), it is built in a second thread
    meanwhile: the compiled build releases the GIL, so the two builds use the two cores (pydensecrf uses one)."""
    key = (height, width, theta_gamma, device)
    if not overlap or device.type != "cpu" or torch.get_num_threads() < 2:  # (a cached one returns at once)
        lattice = _gaussian_lattice(*key)
        return lambda: lattice
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(_gaussian_lattice, *key)
    pool.shutdown(wait=False)
    return future.result


def _check_inputs(image, probs, iterations, method, params) -> tuple[torch.Tensor, torch.Tensor, bool]:
    name = "dense_crf"
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.ascontiguousarray(image))
    if not isinstance(image, torch.Tensor) or image.dtype != torch.uint8 or image.dim() not in (3, 4):
        raise bad_argument(name, "image", "ảnh H x W x 3 kiểu uint8", "an H x W x 3 uint8 image", image)
    if isinstance(probs, np.ndarray):
        probs = torch.from_numpy(probs)
    if not isinstance(probs, torch.Tensor) or not probs.is_floating_point() or probs.dim() not in (3, 4):
        raise bad_argument(name, "probs", "xác suất softmax C x H x W", "softmax probabilities C x H x W", probs)
    batched = image.dim() == 4
    if image.shape[-1] != 3:
        raise bad_argument(name, "image", "ảnh H x W x 3 kiểu uint8", "an H x W x 3 uint8 image", image)
    if probs.dim() != image.dim():
        raise bad_argument(
            name,
            "probs",
            "B x C x H x W khi image là B x H x W x 3 (hoặc C x H x W với một ảnh)",
            "B x C x H x W when image is B x H x W x 3 (or C x H x W for one image)",
            probs,
        )
    if probs.shape[-2:] != image.shape[-3:-1] or (batched and probs.shape[0] != image.shape[0]):
        raise bad_argument(
            name,
            "probs",
            f"cùng kích thước với ảnh {tuple(image.shape[-3:-1])}",
            f"the same size as the image {tuple(image.shape[-3:-1])}",
            probs,
        )
    if probs.shape[-3] < 2:
        raise bad_argument(name, "probs", "ít nhất 2 lớp (C >= 2)", "at least 2 classes (C >= 2)", probs)
    sums = probs.sum(-3)
    if (
        not torch.isfinite(probs).all()
        or (probs < 0).any()
        or not torch.allclose(sums, torch.ones_like(sums), atol=1e-3)
    ):
        raise bad_argument(
            name,
            "probs",
            "xác suất không âm, tổng theo lớp bằng 1 tại mỗi điểm ảnh (đầu ra softmax)",
            "non-negative probabilities summing to 1 over classes at every pixel (a softmax output)",
            probs,
        )
    if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 0:
        raise bad_argument(name, "iterations", "một số nguyên >= 0", "an integer >= 0", iterations)
    if method not in ("auto", "exact", "fast"):
        raise bad_argument(name, "method", "'auto', 'exact' hoặc 'fast'", "'auto', 'exact' or 'fast'", method)
    for key, value in params.items():
        positive = key.startswith("theta")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or (positive and value == 0):
            expected = ("một số > 0", "a number > 0") if positive else ("một số >= 0", "a number >= 0")
            raise bad_argument(name, key, expected[0], expected[1], value)
    return image, probs, batched


def dense_crf(
    image: torch.Tensor | np.ndarray,
    probs: torch.Tensor | np.ndarray,
    iterations: int = 5,
    bilateral_weight: float = 10,
    theta_alpha: float = 80,
    theta_beta: float = 13,
    gaussian_weight: float = 3,
    theta_gamma: float = 3,
    method: str = "auto",
    clip: float = 1e-5,
    exact_max_pixels: int = EXACT_MAX_PIXELS,
) -> torch.Tensor:
    """Refine softmax ``probs`` (C x H x W) of ``image`` (H x W x 3 uint8) by mean-field inference; -> C x H x W.

    Batched: ``image`` B x H x W x 3 and ``probs`` B x C x H x W. Runs on the device of ``probs``.
    ``method``: ``"exact"`` (dense N x N kernel), ``"fast"`` (permutohedral lattice) or ``"auto"``
    (exact when H*W <= ``exact_max_pixels``). ``iterations=0`` returns the clipped, renormalised input.
    """
    params = {
        "bilateral_weight": bilateral_weight,
        "theta_alpha": theta_alpha,
        "theta_beta": theta_beta,
        "gaussian_weight": gaussian_weight,
        "theta_gamma": theta_gamma,
        "clip": clip,
    }
    image, probs, batched = _check_inputs(image, probs, iterations, method, params)
    if not batched:
        image, probs = image.unsqueeze(0), probs.unsqueeze(0)
    device = probs.device
    image = image.to(device)
    b, c, h, w = probs.shape
    if method == "auto":
        method = "exact" if h * w <= exact_max_pixels else "fast"
    make = _ExactFilter if method == "exact" else _LatticeFilter
    outputs = []
    for k in range(b):
        # Pixels x labels (N x C), the layout the filters take: no transposes inside the loop.
        unary = unary_from_probs(probs[k].float().reshape(c, -1), clip).T.contiguous()
        filters = []
        pending = None
        if gaussian_weight > 0 and method == "fast":  # image-independent: built once per size, reused
            pending = _gaussian_lattice_soon(h, w, float(theta_gamma), device, bilateral_weight > 0)
        elif gaussian_weight > 0:
            filters.append((make(pixel_features(image[k], theta_gamma)), float(gaussian_weight)))
        if bilateral_weight > 0:
            filters.append((make(pixel_features(image[k], theta_alpha, theta_beta)), float(bilateral_weight)))
        if pending is not None:
            filters.insert(0, (pending(), float(gaussian_weight)))
        q = _softmax_labels(-unary)
        for _ in range(iterations):
            energy = -unary
            for filt, weight in filters:
                # message passing, then Potts in pydensecrf's form (see potts_transform): - pairwise = + w K q
                energy = torch.add(energy, filt(q), alpha=weight)
            q = _softmax_labels(energy)
        outputs.append(q.T.reshape(c, h, w))
    out = torch.stack(outputs).to(probs.dtype)
    return out if batched else out[0]


def ellipse_prior(
    height: int, width: int, center: tuple[float, float], radii: tuple[float, float], blur: float = 0.15
) -> torch.Tensor:
    """A coarse two-class unary for a photo: 2 x H x W probabilities (background, object).

    The object probability is a soft ellipse (``center`` and ``radii`` as fractions of (H, W)) whose edge
    is blurred over ``blur`` of the radius, clipped to [0.1, 0.9]: roughly where the object is, nothing
    about its edges. The lesson lets the CRF pull this blob onto the photo's edges.
    """
    if not (isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0):
        raise bad_argument("ellipse_prior", "height/width", "hai số nguyên > 0", "two integers > 0", (height, width))
    if not (isinstance(blur, (int, float)) and blur > 0):
        raise bad_argument("ellipse_prior", "blur", "một số > 0", "a number > 0", blur)
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    r = torch.sqrt(((yy - center[0]) / radii[0]) ** 2 + ((xx - center[1]) / radii[1]) ** 2)
    fg = (0.1 + 0.8 * torch.sigmoid((1 - r) / blur)).clamp(0.1, 0.9)
    return torch.stack([1 - fg, fg])


@register_core("04")
def selfcheck_core(device: torch.device) -> str:
    """Run both CRF paths on a small synthetic image on ``device``; a one-line summary."""
    gen = torch.Generator().manual_seed(0)
    image = torch.zeros(48, 64, 3, dtype=torch.uint8)
    image[:, 32:] = 200
    image = (image.float() + torch.randint(0, 20, image.shape, generator=gen)).clamp(0, 255).to(torch.uint8)
    logits = torch.randn(3, 48, 64, generator=gen)
    logits[1, :, 28:] += 2.0
    probs = torch.softmax(logits, 0).to(device)
    exact = dense_crf(image.to(device), probs, method="exact")
    fast = dense_crf(image.to(device), probs, method="fast")
    agree = (exact.argmax(0) == fast.argmax(0)).float().mean().item()
    ok = exact.device.type == device.type and torch.isfinite(fast).all().item()
    return tr(
        f"crf: exact và fast trên {device.type}, 48x64, 3 lớp; nhãn trùng {agree:.1%}; {'ổn' if ok else 'LỖI'}",
        f"crf: exact and fast on {device.type}, 48x64, 3 classes; labels agree {agree:.1%}; {'ok' if ok else 'FAILED'}",
    )
