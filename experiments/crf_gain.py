"""Lesson 04: boundary F-score and mIoU of a coarse DeepLabV3 (output stride 16) before / after the dense CRF.

python experiments/crf_gain.py            # 5 seeds, 2 processes; writes src/results/crf_gain.json

Not ``_common.main``: both groups come from one trained network per seed (the CRF
post-processes its validation outputs), so ``src.crf_gain.run`` trains once and
scores twice. The record keeps DESIGN's schema (``groups`` = boundary F) and adds
``miou`` (the same groups and Welch t for mIoU), ``paired_gain`` (after - before,
per seed) and ``live`` (the same at the lessons' live scale).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _one(seed: int, scale: float, threads: int) -> tuple[int, float, dict[str, dict[str, float]], float]:
    import torch

    torch.set_num_threads(threads)
    import src
    from src import crf_gain

    src.set_language("en")
    start = time.process_time()
    values = crf_gain.run(seed=seed, scale=scale, device="cpu")
    return seed, scale, values, time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Record lesson 04's CRF claim over seeds.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2, help="parallel processes (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--no-live", action="store_true", help="skip the live-scale runs")
    parser.add_argument("--out", type=Path, default=None, help="default: src/results/crf_gain.json")
    args = parser.parse_args(argv)

    from src import crf_gain, record

    claim = crf_gain.CLAIM
    scales = [1.0] + ([] if args.no_live else [crf_gain.LIVE_SCALE])
    jobs = [(seed, scale, args.threads) for scale in scales for seed in args.seeds]
    results: dict[float, dict[int, dict[str, dict[str, float]]]] = {scale: {} for scale in scales}
    cpu, wall = 0.0, time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for seed, scale, values, seconds in pool.map(_one, *zip(*jobs)):
            results[scale][seed] = values
            cpu += seconds
            shown = "; ".join(f"{m} " + ", ".join(f"{g} {v:.3f}" for g, v in d.items()) for m, d in values.items())
            print(f"crf_gain seed {seed} scale {scale}: {shown} ({seconds:.0f} s CPU)", flush=True)

    def groups(scale: float, metric: str) -> dict[str, list[float]]:
        return {g: [results[scale][s][metric][g] for s in args.seeds] for g in (crf_gain.BEFORE, crf_gain.AFTER)}

    def side(scale: float, metric: str) -> dict:
        g = groups(scale, metric)
        gain = [a - b for a, b in zip(g[crf_gain.AFTER], g[crf_gain.BEFORE])]
        return {
            "groups": g,
            "t": record.welch_t(g[crf_gain.AFTER], g[crf_gain.BEFORE]),
            "paired_gain": {"values": gain, "mean": statistics.fmean(gain), "std": statistics.stdev(gain)},
        }

    extra = {
        "miou": {"metric": "val_miou", **side(1.0, "val_miou")},
        "paired_gain": side(1.0, "val_boundary_f1")["paired_gain"],
        "cpu_seconds": round(cpu, 1),
        "wall_seconds": round(time.perf_counter() - wall, 1),
    }
    if not args.no_live:
        extra["live"] = {
            "scale": crf_gain.LIVE_SCALE,
            "config": claim.config(crf_gain.LIVE_SCALE),
            "groups": groups(crf_gain.LIVE_SCALE, "val_boundary_f1"),
            "miou": side(crf_gain.LIVE_SCALE, "val_miou"),
        }
    rec = record.make_record(
        lesson=claim.lesson,
        claim_vi=claim.claim_vi,
        claim_en=claim.claim_en,
        metric=claim.metric,
        groups=groups(1.0, "val_boundary_f1"),
        config=claim.config(1.0),
        seeds=args.seeds,
        better=claim.better,
        worse=claim.worse,
        **extra,
    )
    out = record.save(rec, crf_gain.NAME, args.out)
    print(record.Record(crf_gain.NAME, rec).summary())
    print(f"mIoU: Welch t = {extra['miou']['t']:.2f}")
    print(f"wrote {out} ({cpu:.0f} s CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
