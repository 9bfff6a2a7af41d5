"""Tests for src.crf and src.permutohedral (lesson 04), checked against pydensecrf (required)."""

from __future__ import annotations

import numpy as np
import pydensecrf.densecrf as dcrf  # required by `make test` (installed by `make crf`)
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pydensecrf.utils import unary_from_softmax
from scipy import ndimage
from skimage import data, transform

import src
from src import checks, crf
from src.data import TextureMosaics
from src.permutohedral import PermutohedralLattice

PARAMS = {"bilateral_weight": 10, "theta_alpha": 80, "theta_beta": 13, "gaussian_weight": 3, "theta_gamma": 3}


def reference(image: np.ndarray, probs: np.ndarray, iterations: int = 5, **kw) -> np.ndarray:
    p = {**PARAMS, **kw}
    c, h, w = probs.shape
    model = dcrf.DenseCRF2D(w, h, c)
    model.setUnaryEnergy(np.ascontiguousarray(unary_from_softmax(probs)))
    model.addPairwiseGaussian(sxy=p["theta_gamma"], compat=p["gaussian_weight"])
    model.addPairwiseBilateral(
        sxy=p["theta_alpha"], srgb=p["theta_beta"], rgbim=np.ascontiguousarray(image), compat=p["bilateral_weight"]
    )
    return np.array(model.inference(iterations), dtype=np.float32).reshape(c, h, w)


def photo(name: str, h: int, w: int) -> np.ndarray:
    img = getattr(data, name)()
    return (transform.resize(img, (h, w), anti_aliasing=True) * 255).astype(np.uint8)


def coarse_ellipse_probs(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A coarse foreground/background unary: a blurred ellipse in the middle, plus noise."""
    yy, xx = np.mgrid[:h, :w]
    inside = ((yy - h / 2) / (0.35 * h)) ** 2 + ((xx - w / 2) / (0.3 * w)) ** 2 < 1
    fg = ndimage.gaussian_filter(inside.astype(np.float32), sigma=min(h, w) / 10)
    fg = np.clip(0.1 + 0.8 * fg + 0.05 * np.random.default_rng(seed).normal(size=fg.shape), 0.02, 0.98)
    return np.stack([1 - fg, fg]).astype(np.float32)


def coarse_mosaic_probs(mask: np.ndarray, classes: int, seed: int = 0) -> np.ndarray:
    """A blobby prediction of a mosaic: the one-hot truth pooled 8x, upsampled bilinearly, plus noise."""
    onehot = torch.nn.functional.one_hot(torch.as_tensor(mask).long(), classes).permute(2, 0, 1)[None].float()
    small = torch.nn.functional.avg_pool2d(onehot, 8)
    up = torch.nn.functional.interpolate(small, size=mask.shape, mode="bilinear", align_corners=False)[0]
    gen = torch.Generator().manual_seed(seed)
    return torch.softmax(3 * up + 0.5 * torch.randn(up.shape, generator=gen), 0).numpy()


def agreement(a, b) -> float:
    a = a.numpy() if isinstance(a, torch.Tensor) else a
    b = b.numpy() if isinstance(b, torch.Tensor) else b
    return float((a.argmax(0) == b.argmax(0)).mean())


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee"])
def test_real_photos_agree_with_pydensecrf(name):
    image = photo(name, 48, 64)
    probs = coarse_ellipse_probs(48, 64)
    ref = reference(image, probs)
    fast = crf.dense_crf(image, probs, method="fast")
    exact = crf.dense_crf(image, probs, method="exact")
    assert agreement(fast, ref) >= 0.95
    assert agreement(exact, ref) >= 0.95
    assert agreement(exact, fast) >= 0.95
    # the CRF did something: the labels moved away from the unary's argmax somewhere
    assert agreement(ref, probs) < 1.0


def test_fast_path_reproduces_pydensecrf_numbers():
    """The lattice follows pydensecrf's C++ step by step: the marginals match to float rounding."""
    image = photo("astronaut", 60, 80)
    probs = torch.softmax(torch.randn(4, 60, 80, generator=torch.Generator().manual_seed(1)) * 2, 0).numpy()
    for iterations in (0, 1, 5):
        ref = reference(image, probs, iterations)
        ours = crf.dense_crf(image, probs, iterations, method="fast").numpy()
        np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_real_size_photo_fast_path():
    image = photo("coffee", 240, 320)
    probs = coarse_ellipse_probs(240, 320, seed=3)
    assert agreement(crf.dense_crf(image, probs), reference(image, probs)) >= 0.99  # auto -> fast here


def test_mosaic_predictions_agree_with_pydensecrf():
    ds = TextureMosaics("mosaic", "val", size=64, count=4)
    for k in range(4):
        image, mask = ds.images[k], np.asarray(ds.masks[k])
        probs = coarse_mosaic_probs(mask, ds.num_classes, seed=k)
        ref = reference(image, probs)
        for method in ("exact", "fast"):
            assert agreement(crf.dense_crf(image, probs, method=method), ref) >= 0.95, (k, method)


def test_other_parameters_agree_with_pydensecrf():
    image = photo("chelsea", 40, 56)
    probs = coarse_ellipse_probs(40, 56, seed=2)
    kw = {"bilateral_weight": 5, "theta_alpha": 20, "theta_beta": 30, "gaussian_weight": 1, "theta_gamma": 2}
    ref = reference(image, probs, 3, **kw)
    assert agreement(crf.dense_crf(image, probs, 3, method="exact", **kw), ref) >= 0.95
    np.testing.assert_allclose(crf.dense_crf(image, probs, 3, method="fast", **kw).numpy(), ref, atol=1e-4)


def test_auto_picks_by_size_and_batch_matches_single():
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2, 20, 24, 3), generator=gen, dtype=torch.uint8)
    probs = torch.softmax(torch.randn(2, 3, 20, 24, generator=gen), 1)
    batched = crf.dense_crf(images, probs)
    for k in range(2):
        single = crf.dense_crf(images[k], probs[k], method="exact")  # auto == exact at this size
        torch.testing.assert_close(batched[k], single)
    fast = crf.dense_crf(images[0], probs[0], exact_max_pixels=10)  # auto -> fast
    torch.testing.assert_close(fast, crf.dense_crf(images[0], probs[0], method="fast"))
    assert batched.shape == probs.shape
    torch.testing.assert_close(batched.sum(1), torch.ones(2, 20, 24))


def test_zero_iterations_is_the_clipped_unary():
    probs = torch.tensor([[[1.0, 0.3]], [[0.0, 0.7]]])
    image = torch.zeros(1, 2, 3, dtype=torch.uint8)
    out = crf.dense_crf(image, probs, iterations=0)
    clipped = probs.clamp(min=1e-5)
    torch.testing.assert_close(out, clipped / clipped.sum(0))


def test_exact_one_step_is_mean_field_step():
    gen = torch.Generator().manual_seed(3)
    image = torch.randint(0, 256, (8, 9, 3), generator=gen, dtype=torch.uint8)
    probs = torch.softmax(torch.randn(3, 8, 9, generator=gen), 0)
    unary = crf.unary_from_probs(probs.reshape(3, -1))
    kernels = [
        crf.gaussian_kernel_matrix(crf.pixel_features(image, 3.0)),
        crf.gaussian_kernel_matrix(crf.pixel_features(image, 80.0, 13.0)),
    ]
    step = crf.mean_field_step(unary, torch.softmax(-unary, 0), kernels, [3.0, 10.0])
    torch.testing.assert_close(crf.dense_crf(image, probs, 1, method="exact").reshape(3, -1), step)


def test_exact_chunked_equals_dense(monkeypatch):
    gen = torch.Generator().manual_seed(4)
    image = torch.randint(0, 256, (12, 10, 3), generator=gen, dtype=torch.uint8)
    probs = torch.softmax(torch.randn(3, 12, 10, generator=gen), 0)
    dense = crf.dense_crf(image, probs, method="exact")
    monkeypatch.setattr(crf, "_CHUNK_ELEMENTS", 1000)  # forces the row-chunked kernel
    torch.testing.assert_close(crf.dense_crf(image, probs, method="exact"), dense, atol=1e-5, rtol=1e-4)


def test_kernel_matrix_is_symmetric_and_normalised():
    feats = torch.randn(30, 5)
    k = crf.gaussian_kernel_matrix(feats)
    torch.testing.assert_close(k, k.T)
    raw = crf.gaussian_kernel_matrix(feats, normalize=False)
    torch.testing.assert_close(torch.diagonal(raw), torch.ones(30))  # the pixel itself is included
    d = raw.sum(1).rsqrt()
    torch.testing.assert_close(k, d[:, None] * raw * d[None, :])


@settings(max_examples=25, deadline=None)
@given(c=st.integers(2, 5), n=st.integers(1, 20), weight=st.floats(0, 20), seed=st.integers(0, 1000))
def test_potts_equals_pydensecrf_form_after_softmax(c, n, weight, seed):
    """Law: softmax(-U - w (sum_l' m_l' - m_l)) == softmax(-U + w m_l) (the label-independent part cancels)."""
    gen = torch.Generator().manual_seed(seed)
    u, m = torch.randn(c, n, generator=gen), torch.rand(c, n, generator=gen)
    a = torch.softmax(-u - crf.potts_transform(m, weight), 0)
    torch.testing.assert_close(a, torch.softmax(-u + weight * m, 0), atol=1e-5, rtol=1e-4)


def test_lattice_sparse_and_index_paths_agree_and_approximate_the_gaussian():
    gen = torch.Generator().manual_seed(5)
    image = torch.from_numpy(photo("astronaut", 30, 40))
    feats = crf.pixel_features(image, 6.0, 20.0)
    values = torch.rand(feats.shape[0], 3, generator=gen)
    sparse, plain = PermutohedralLattice(feats), PermutohedralLattice(feats, sparse=False)
    torch.testing.assert_close(sparse.filter(values), plain.filter(values), atol=1e-4, rtol=1e-4)
    sparse.normalize_symmetric()
    plain.normalize_symmetric()
    torch.testing.assert_close(sparse.filter(values), plain.filter(values), atol=1e-4, rtol=1e-4)
    # an approximation of the exact normalised Gaussian filter: close, not equal
    exact = crf.gaussian_kernel_matrix(feats) @ values
    approx = sparse.filter(values)
    rel = (approx - exact).norm() / exact.norm()
    assert rel < 0.1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    image = photo("astronaut", 48, 64)
    probs = torch.from_numpy(coarse_ellipse_probs(48, 64))
    for method in ("exact", "fast"):
        gpu = crf.dense_crf(torch.from_numpy(image).cuda(), probs.cuda(), method=method)
        assert gpu.device.type == "cuda"
        assert agreement(gpu.cpu(), crf.dense_crf(image, probs, method=method)) >= 0.99


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"probs": np.full((2, 4, 5), 0.7, np.float32)}, "probs"),  # does not sum to 1
        ({"image": np.zeros((4, 5, 3), np.float32)}, "image"),  # not uint8
        ({"image": np.zeros((4, 5), np.uint8)}, "image"),  # not H x W x 3
        ({"image": np.zeros((4, 6, 3), np.uint8)}, "probs"),  # sizes differ
        ({"probs": np.ones((1, 4, 5), np.float32)}, "probs"),  # one class
        ({"iterations": -1}, "iterations"),
        ({"method": "slow"}, "method"),
        ({"theta_alpha": 0}, "theta_alpha"),
        ({"bilateral_weight": -1.0}, "bilateral_weight"),
    ],
)
def test_bad_input_raises_clear_value_error(kwargs, argument):
    args = {"image": np.zeros((4, 5, 3), np.uint8), "probs": np.full((2, 4, 5), 0.5, np.float32), **kwargs}
    src.set_language("en")
    try:
        with pytest.raises(ValueError, match=f"`{argument}`"):
            crf.dense_crf(**args)
    finally:
        src.set_language("vi")
    with pytest.raises(ValueError, match="nhận được"):
        crf.dense_crf(**args)


def test_checks_pass_with_reference_and_fail_otherwise(capsys):
    assert checks.check_potts_transform(crf.potts_transform).passed
    assert checks.check_mean_field_step(crf.mean_field_step).passed
    assert not checks.check_potts_transform(lambda m, w: w * m).passed  # sign / form wrong

    def no_softmax(unary, q, kernels, weights):
        pairwise = sum(crf.potts_transform(q @ k.T, w) for k, w in zip(kernels, weights))
        return -unary - pairwise

    assert not checks.check_mean_field_step(no_softmax).passed

    def unfinished(*args):
        raise NotImplementedError

    result = checks.check_mean_field_step(unfinished)
    assert not result.passed
    out = capsys.readouterr().out
    assert "04-2" in out and "04-1" in out


def test_selfcheck_core_runs_on_cpu():
    line = crf.selfcheck_core(torch.device("cpu"))
    assert "cpu" in line and ("ổn" in line or "ok" in line)


def test_ellipse_prior_is_a_soft_blob():
    prior = crf.ellipse_prior(30, 40, center=(0.5, 0.5), radii=(0.3, 0.3))
    assert prior.shape == (2, 30, 40)
    torch.testing.assert_close(prior.sum(0), torch.ones(30, 40))
    assert prior[1, 15, 20] > 0.85 and prior[1, 0, 0] < 0.15
    with pytest.raises(ValueError, match="blur"):
        crf.ellipse_prior(30, 40, (0.5, 0.5), (0.3, 0.3), blur=0)
    with pytest.raises(ValueError):
        crf.ellipse_prior(0, 40, (0.5, 0.5), (0.3, 0.3))


def test_gaussian_lattice_is_reused_and_gives_the_same_result():
    """The smoothness kernel does not depend on the colours: its lattice is cached by size, with no effect on Q."""
    image = photo("coffee", 40, 56)
    probs = coarse_ellipse_probs(40, 56, seed=5)
    crf._gaussian_lattice.cache_clear()
    cold = crf.dense_crf(image, probs, method="fast")
    other = photo("astronaut", 40, 56)  # another image of the same size reuses the lattice
    crf.dense_crf(other, probs, method="fast")
    info = crf._gaussian_lattice.cache_info()
    assert info.hits >= 1 and info.currsize == 1
    torch.testing.assert_close(crf.dense_crf(image, probs, method="fast"), cold, atol=0, rtol=0)
    # and the cached lattice is the one built from the image's own features
    direct = crf._LatticeFilter(crf.pixel_features(torch.from_numpy(image), 3.0))
    values = torch.rand(40 * 56, 2, generator=torch.Generator().manual_seed(0))
    cached = crf._gaussian_lattice(40, 56, 3.0, torch.device("cpu"))
    torch.testing.assert_close(cached(values), direct(values))


def test_building_the_two_lattices_in_two_threads_changes_nothing(monkeypatch):
    """With 2 torch threads the smoothness lattice is built in a second thread meanwhile: same Q, bit for bit."""
    image, probs = photo("coffee", 40, 56), coarse_ellipse_probs(40, 56, seed=3)
    threads = torch.get_num_threads()
    submitted = []
    real = crf.ThreadPoolExecutor.submit
    monkeypatch.setattr(crf.ThreadPoolExecutor, "submit", lambda self, *a: submitted.append(a) or real(self, *a))
    try:
        results = []
        for n in (1, 2):
            torch.set_num_threads(n)
            crf._gaussian_lattice.cache_clear()
            results.append(crf.dense_crf(image, probs, method="fast"))
    finally:
        torch.set_num_threads(threads)
    assert len(submitted) == 1  # only the 2-thread call overlapped the builds
    torch.testing.assert_close(results[1], results[0], atol=0, rtol=0)


def test_fast_path_agrees_with_pydensecrf_at_21_labels():
    image = photo("chelsea", 120, 160)
    gen = torch.Generator().manual_seed(7)
    coarse = torch.randn(1, 21, 8, 10, generator=gen) * 3
    probs = torch.softmax(torch.nn.functional.interpolate(coarse, size=(120, 160), mode="bilinear")[0], 0).numpy()
    ref = reference(image, probs)
    ours = crf.dense_crf(image, probs, method="fast").numpy()
    assert agreement(ours, ref) >= 0.995
    np.testing.assert_allclose(ours, ref, atol=1e-3)
