"""Benchmark: src.crf.dense_crf (fast and exact paths) against pydensecrf2 (lesson 04).

Same 320 x 240 photo (scikit-image's ``coffee``), 5 labels, 5 iterations, default
parameters; each pair is timed back to back in one run (best of ``--repeats``),
as wall time and as process CPU time. Prints the time ratio (ours / pydensecrf)
and the share of pixels whose label (argmax) agrees. The exact path builds the
N x N kernel row block by row block: it runs only where it fits (``--exact``
forces it; on a GPU it is attempted by default).

    python benchmarks/bench_crf.py [--device cpu|cuda] [--threads 1] [--repeats 3] [--exact]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from skimage import data, transform

import src
from src import crf

H, W, LABELS, ITERATIONS = 240, 320, 5, 5
PARAMS = {"bilateral_weight": 10, "theta_alpha": 80, "theta_beta": 13, "gaussian_weight": 3, "theta_gamma": 3}


def inputs() -> tuple[np.ndarray, np.ndarray]:
    image = (transform.resize(data.coffee(), (H, W), anti_aliasing=True) * 255).astype(np.uint8)
    gen = torch.Generator().manual_seed(0)
    # a blobby 5-label prediction: smooth random logits (as upsampled network outputs are)
    coarse = torch.randn(1, LABELS, H // 16, W // 16, generator=gen) * 3
    logits = torch.nn.functional.interpolate(coarse, size=(H, W), mode="bilinear", align_corners=False)[0]
    return image, torch.softmax(logits, 0).numpy()


def run_pydensecrf(image: np.ndarray, probs: np.ndarray) -> np.ndarray:
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import unary_from_softmax

    model = dcrf.DenseCRF2D(W, H, LABELS)
    model.setUnaryEnergy(np.ascontiguousarray(unary_from_softmax(probs)))
    model.addPairwiseGaussian(sxy=PARAMS["theta_gamma"], compat=PARAMS["gaussian_weight"])
    model.addPairwiseBilateral(
        sxy=PARAMS["theta_alpha"], srgb=PARAMS["theta_beta"], rgbim=image, compat=PARAMS["bilateral_weight"]
    )
    return np.array(model.inference(ITERATIONS)).reshape(LABELS, H, W)


def timed(fn, repeats: int, sync) -> tuple[float, float, object]:
    """Best wall and CPU time over ``repeats`` runs (after one warm-up), and the last result."""
    out = fn()
    sync()
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        sync()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: src.get_device())")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (pydensecrf uses one)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exact", action="store_true", help="also run the exact O(N^2) path on CPU")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = src.get_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    image, probs = inputs()
    img_t, probs_t = torch.from_numpy(image).to(device), torch.from_numpy(probs).to(device)

    print(f"dense CRF {W}x{H}, {LABELS} labels, {ITERATIONS} iterations; torch threads={args.threads}, device={device}")
    ref_wall, ref_cpu, ref = timed(lambda: run_pydensecrf(image, probs), args.repeats, lambda: None)
    print(f"{'method':<22}{'wall s':>9}{'CPU s':>9}{'wall ratio':>12}{'CPU ratio':>11}{'labels agree':>14}")
    print(f"{'pydensecrf (CPU)':<22}{ref_wall:9.3f}{ref_cpu:9.3f}{1:12.2f}{1:11.2f}{'—':>14}")
    methods = ["fast"] + (["exact"] if args.exact or device.type == "cuda" else [])
    for method in methods:
        try:
            wall, cpu, out = timed(
                lambda m=method: crf.dense_crf(img_t, probs_t, method=m, **PARAMS), args.repeats, sync
            )
        except torch.OutOfMemoryError:
            print(f"{'ours ' + method:<22} out of memory")
            continue
        agree = float((out.argmax(0).cpu().numpy() == ref.argmax(0)).mean())
        print(
            f"{'ours ' + method + ' (' + device.type + ')':<22}{wall:9.3f}{cpu:9.3f}"
            f"{wall / ref_wall:12.2f}{cpu / ref_cpu:11.2f}{agree:14.2%}"
        )
    if "exact" not in methods:
        print("(exact path skipped on CPU: N = 76,800, an N x N kernel per iteration; pass --exact to force it)")


if __name__ == "__main__":
    main()
