"""Benchmark: src.crf.dense_crf (permutohedral fast path) against pydensecrf2's C++ (lesson 04, issue 18).

Scikit-image's ``coffee`` photo resized to 160x120, 320x240 and 640x480, a blobby
prediction with 5 and 21 labels (smooth random logits, as upsampled network
outputs are), 5 mean-field iterations, DeepLab's default parameters. The machine
is shared and noisy, so ours and pydensecrf are timed **side by side**: each
round runs both back to back (alternating which goes first), the ratio
ours / pydensecrf is taken per round, and the median over ``--rounds`` rounds
(>= 15) is reported with its quartiles. pydensecrf runs on one thread; ours is
timed with 1 and with 2 torch threads. Also recorded: the time split (lattice
build vs. the iterations), how the time grows with pixels and labels (log-log
slopes), the share of pixels whose label (argmax) agrees with pydensecrf on three
photos and a synthetic case, the load average, and the GPU row (``--device cuda``
when a GPU is present; otherwise "not measured").

Writes ``src/results/crf_speed.json`` (package data: lesson 04 reads it through
:mod:`src.record`). The exact O(N^2) path is not timed here (N = 76,800 at 320x240).

    python benchmarks/bench_crf.py [--rounds 15] [--threads 1 2] [--sizes 160x120 320x240 640x480]
                                   [--labels 5 21] [--device cuda] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from skimage import data, transform

from src import _lattice_numba, crf, record

ITERATIONS = 5
PARAMS = {"bilateral_weight": 10, "theta_alpha": 80, "theta_beta": 13, "gaussian_weight": 3, "theta_gamma": 3}
SIZES = ((120, 160), (240, 320), (480, 640))  # (H, W)
LABELS = (5, 21)
HEADLINE = (240, 320)


def photo(name: str, h: int, w: int) -> np.ndarray:
    return (transform.resize(getattr(data, name)(), (h, w), anti_aliasing=True) * 255).astype(np.uint8)


def blobby_probs(h: int, w: int, labels: int, seed: int = 0) -> np.ndarray:
    """Smooth random logits upsampled 16x, as a network's output is; softmax -> labels x H x W."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, labels, max(h // 16, 2), max(w // 16, 2), generator=gen) * 3
    logits = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)[0]
    return torch.softmax(logits, 0).numpy()


def synthetic(h: int, w: int, labels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Coloured rectangles with noise, and a coarse noisy prediction of them (the one-hot truth pooled 8x)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), np.int64)
    for k in range(1, 12):
        y, x = rng.integers(0, h - h // 4), rng.integers(0, w - w // 4)
        mask[y : y + rng.integers(h // 8, h // 3), x : x + rng.integers(w // 8, w // 3)] = k % labels
    colours = rng.integers(0, 256, (labels, 3))
    image = np.clip(colours[mask] + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    onehot = torch.nn.functional.one_hot(torch.from_numpy(mask), labels).permute(2, 0, 1)[None].float()
    up = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(onehot, 8), size=(h, w), mode="bilinear")[0]
    noise = torch.from_numpy(rng.normal(0, 0.5, up.shape)).float()
    return image, torch.softmax(3 * up + noise, 0).numpy()


def run_pydensecrf(image: np.ndarray, probs: np.ndarray, iterations: int = ITERATIONS) -> np.ndarray:
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import unary_from_softmax

    c, h, w = probs.shape
    model = dcrf.DenseCRF2D(w, h, c)
    model.setUnaryEnergy(np.ascontiguousarray(unary_from_softmax(probs)))
    model.addPairwiseGaussian(sxy=PARAMS["theta_gamma"], compat=PARAMS["gaussian_weight"])
    model.addPairwiseBilateral(
        sxy=PARAMS["theta_alpha"], srgb=PARAMS["theta_beta"], rgbim=image, compat=PARAMS["bilateral_weight"]
    )
    return np.array(model.inference(iterations)).reshape(c, h, w)


def ours_runner(image: np.ndarray, probs: np.ndarray, device: torch.device, iterations: int = ITERATIONS):
    """A callable that runs dense_crf (fast path) on ``device`` and returns the labels x H x W result on CPU."""
    img_t, probs_t = torch.from_numpy(image).to(device), torch.from_numpy(probs).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def run() -> np.ndarray:
        out = crf.dense_crf(img_t, probs_t, iterations, method="fast", **PARAMS)
        sync()
        return out.cpu().numpy()

    return run


def variant(name: str, run: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    """``"cold:T"``: T torch threads, the cached Gaussian lattice dropped first (every call builds both lattices,
    as pydensecrf does); ``"warm:T"``: T threads, the Gaussian lattice reused (a run of same-size images).
    A third part ``":tensor"`` builds the lattices with the tensor operations instead of the compiled loops
    (the build before issue 18's compiled one, kept as the teaching path)."""
    cache, threads, *build = name.split(":")

    def fn() -> np.ndarray:
        torch.set_num_threads(int(threads))
        if cache == "cold":
            crf._gaussian_lattice.cache_clear()
        if build != ["tensor"]:
            return run()
        os.environ["SRC_LATTICE_BUILD"] = "torch"
        try:
            return run()
        finally:
            del os.environ["SRC_LATTICE_BUILD"]

    return fn


def _seconds(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def side_by_side(
    reference: Callable[[], np.ndarray], ours: dict[str, Callable[[], np.ndarray]], rounds: int
) -> dict[str, object]:
    """Time ``reference`` and each of ``ours`` (name -> callable) in the same rounds, alternating the order."""
    ref_out = reference()  # warm-up (and the result the agreement is computed against)
    outs = {name: fn() for name, fn in ours.items()}
    ref_times: list[float] = []
    times: dict[str, list[float]] = {name: [] for name in ours}
    for r in range(rounds):
        if r % 2 == 0:
            ref_times.append(_seconds(reference)[0])
        for name, fn in ours.items():
            times[name].append(_seconds(fn)[0])
        if r % 2 == 1:
            ref_times.append(_seconds(reference)[0])
    result: dict[str, object] = {"pydensecrf_s": ref_times}
    for name in ours:
        ratios = [a / b for a, b in zip(times[name], ref_times)]
        q1, _median, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
        result[name] = {
            "seconds": times[name],
            "ratios": ratios,
            "ratio_median": statistics.median(ratios),
            "ratio_q1": q1,
            "ratio_q3": q3,
            "agree": float((outs[name].argmax(0) == ref_out.argmax(0)).mean()),
        }
    return result


def time_split(image: np.ndarray, probs: np.ndarray, rounds: int) -> dict[str, float]:
    """Median seconds (one thread, cold) of the set-up (iterations=0: checks, unary, both lattices) and the whole run."""
    setup = variant("cold:1", ours_runner(image, probs, torch.device("cpu"), 0))
    full = variant("cold:1", ours_runner(image, probs, torch.device("cpu")))
    setup_ref = lambda: run_pydensecrf(image, probs, 0)  # noqa: E731
    full_ref = lambda: run_pydensecrf(image, probs)  # noqa: E731
    times: dict[str, list[float]] = {"ours_setup": [], "ours_total": [], "ref_setup": [], "ref_total": []}
    for _ in range(rounds):
        for name, fn in (
            ("ours_setup", setup),
            ("ours_total", full),
            ("ref_setup", setup_ref),
            ("ref_total", full_ref),
        ):
            times[name].append(_seconds(fn)[0])
    return {name: statistics.median(v) for name, v in times.items()}


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) against log(x): time ~ x^slope."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["cold:1", "cold:1:tensor", "cold:2", "warm:1", "warm:2"],
        help="cold|warm:threads[:tensor] (see variant())",
    )
    parser.add_argument("--sizes", nargs="+", default=[f"{w}x{h}" for h, w in SIZES], help="W x H")
    parser.add_argument("--labels", type=int, nargs="+", default=list(LABELS))
    parser.add_argument("--device", default="cpu", help="cpu, or cuda to add the GPU row")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write the JSON")
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in reversed(s.split("x"))) for s in args.sizes]
    started = time.perf_counter()
    load_before = os.getloadavg()[0]

    rows = []
    print(f"dense CRF, {ITERATIONS} iterations, median of {args.rounds} side-by-side rounds; ratio = ours / pydensecrf")
    print(
        f"{'size':>9}{'labels':>7}{'pydensecrf s':>14}"
        + "".join(f"{'ours ' + v + ' s':>14}{'ratio [q1,q3]':>20}" for v in args.variants)
        + f"{'agree':>9}"
    )
    for h, w in sizes:
        image = photo("coffee", h, w)
        for labels in args.labels:
            probs = blobby_probs(h, w, labels)

            run = ours_runner(image, probs, torch.device("cpu"))
            res = side_by_side(
                lambda image=image, probs=probs: run_pydensecrf(image, probs),
                {v: variant(v, run) for v in args.variants},
                args.rounds,
            )
            row = {"height": h, "width": w, "pixels": h * w, "labels": labels, **res}
            row["pydensecrf_median_s"] = statistics.median(res["pydensecrf_s"])
            rows.append(row)
            line = f"{f'{w}x{h}':>9}{labels:>7}{row['pydensecrf_median_s']:14.3f}"
            for v in args.variants:
                r = res[v]
                line += f"{statistics.median(r['seconds']):14.3f}{r['ratio_median']:9.2f} [{r['ratio_q1']:.2f},{r['ratio_q3']:.2f}]"
            print(line + f"{res[args.variants[0]]['agree']:9.2%}", flush=True)
    torch.set_num_threads(1)

    # how the time grows: log-log slope against pixels (per label count) and against labels (per size)
    def median_s(row: dict, who: str) -> float:
        return row["pydensecrf_median_s"] if who == "pydensecrf" else statistics.median(row[who]["seconds"])

    growth = {}
    for who in ["pydensecrf", *args.variants]:
        g = {}
        for labels in args.labels:
            sel = [r for r in rows if r["labels"] == labels]
            if len(sel) > 1:
                g[f"pixels_slope_{labels}_labels"] = slope([r["pixels"] for r in sel], [median_s(r, who) for r in sel])
        for h, w in sizes:
            sel = [r for r in rows if (r["height"], r["width"]) == (h, w)]
            if len(sel) > 1:
                g[f"labels_slope_{w}x{h}"] = slope([r["labels"] for r in sel], [median_s(r, who) for r in sel])
        growth[who] = g

    # where the time goes at the headline size (one thread)
    hh, hw = HEADLINE if HEADLINE in sizes else sizes[0]
    split = {}
    for labels in args.labels:
        split[str(labels)] = time_split(photo("coffee", hh, hw), blobby_probs(hh, hw, labels), max(5, args.rounds // 3))

    # agreement with pydensecrf on other photos and on a synthetic case (headline size)
    agreement = {}
    for labels in args.labels:
        for name in ("astronaut", "chelsea", "coffee", "synthetic"):
            if name == "synthetic":
                image, probs = synthetic(hh, hw, labels, seed=labels)
            else:
                image, probs = photo(name, hh, hw), blobby_probs(hh, hw, labels, seed=1)
            ours = ours_runner(image, probs, torch.device("cpu"))()
            agreement[f"{name}_{labels}"] = float((ours.argmax(0) == run_pydensecrf(image, probs).argmax(0)).mean())
    print("agreement with pydensecrf:", {k: f"{v:.4%}" for k, v in agreement.items()})
    print("time split (s):", split)
    print("growth (log-log slopes):", growth)

    gpu = None
    device = torch.device(args.device)
    if device.type == "cuda" and torch.cuda.is_available():
        gpu = {"device": torch.cuda.get_device_name(device), "rows": []}
        for h, w in sizes:
            image = photo("coffee", h, w)
            for labels in args.labels:
                probs = blobby_probs(h, w, labels)
                res = side_by_side(
                    lambda image=image, probs=probs: run_pydensecrf(image, probs),
                    {"cuda": ours_runner(image, probs, device)},
                    args.rounds,
                )
                gpu["rows"].append({"height": h, "width": w, "labels": labels, **res})
                print(
                    f"cuda {w}x{h} {labels} labels: ratio {res['cuda']['ratio_median']:.3f} agree {res['cuda']['agree']:.2%}"
                )

    head = {
        labels: next(r for r in rows if (r["height"], r["width"]) == (hh, hw) and r["labels"] == labels)
        for labels in args.labels
    }
    t0 = args.variants[0]
    groups, rounds = {}, list(range(args.rounds))
    for labels, r in head.items():
        groups[f"ours, {labels} labels"] = r[t0]["seconds"]
        groups[f"pydensecrf, {labels} labels"] = r["pydensecrf_s"]
    first = args.labels[0]
    ours_g, ref_g = f"ours, {first} labels", f"pydensecrf, {first} labels"
    faster, slower = (
        (ours_g, ref_g) if statistics.median(groups[ours_g]) < statistics.median(groups[ref_g]) else (ref_g, ours_g)
    )
    result = record.make_record(
        lesson="04",
        # the claim names whichever was faster in this run; its Welch t says whether that clears the noise
        claim_vi=f"Ở {hw}x{hh}, {first} nhãn, {t0}: {faster.split(',')[0]} chạy nhanh hơn {slower.split(',')[0]}.",
        claim_en=f"At {hw}x{hh}, {first} labels, {t0}: {faster.split(',')[0]} runs faster than {slower.split(',')[0]}.",
        metric=f"seconds per dense CRF ({ITERATIONS} iterations, {hw}x{hh}; ours: {t0} = cache:threads)",
        groups=groups,
        config={
            "image_size": [hh, hw],
            "output_stride": None,
            "atrous_rates": None,
            "iterations": ITERATIONS,
            "params": PARAMS,
            "photo": "skimage coffee",
            "rounds": args.rounds,
            "variants": args.variants,
            # the lattice build the plain variants used ("compiled": src/_lattice_numba.py; "tensor" without numba)
            "lattice_build": "compiled" if _lattice_numba.available() else "tensor",
        },
        seeds=rounds,
        better=faster,
        worse=slower,
        higher_is_better=False,
        benchmark={
            "rows": rows,
            "growth": growth,
            "time_split_s": split,
            "agreement": agreement,
            "gpu": gpu,
            "machine": {
                "cpus": os.cpu_count(),
                "processor": platform.processor() or platform.machine(),
                "load_average_before": load_before,
                "load_average_after": os.getloadavg()[0],
            },
            "measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "wall_s": time.perf_counter() - started,
        },
    )
    if not args.no_write:
        print("wrote", record.save(result, "crf_speed"))
    return result


if __name__ == "__main__":
    main()
