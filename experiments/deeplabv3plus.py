"""Lesson 08: DeepLabV3 vs DeepLabV3+ on the thin data, boundary F AND mIoU from the same trainings.

The claims ``deeplabv3plus_boundary`` and ``deeplabv3plus_miou`` (src.claims) train the same two
models with the same protocol; they differ only in the metric read at the end. This script trains
each (seed, scale) once, evaluates both metrics on the val split (eval mode, src.train.evaluate) and
writes both records, as ``_common.main`` would (half the CPU of running the two claim scripts).

python experiments/deeplabv3plus.py      # 5 seeds, 2 processes; writes src/results/deeplabv3plus_{boundary,miou}.json
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

from _common import LIVE_SCALE

NAMES = {"val_boundary_f1": "deeplabv3plus_boundary", "val_miou": "deeplabv3plus_miou"}


def _one(seed: int, scale: float, threads: int) -> tuple[int, float, dict[str, dict[str, float]], float]:
    import torch

    torch.set_num_threads(threads)
    import src
    from src import claims
    from src.train import evaluate

    src.set_language("en")
    start = time.process_time()
    _, models, val_loader = claims.run("deeplabv3plus_boundary", seed=seed, scale=scale, return_models=True)
    values: dict[str, dict[str, float]] = {metric: {} for metric in NAMES}
    for group, model in models.items():
        metrics = evaluate(model, val_loader)
        values["val_boundary_f1"][group] = float(metrics["boundary_f1"])
        values["val_miou"][group] = float(metrics["miou"])
    return seed, scale, values, time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from src import claims, record

    scales = [1.0, LIVE_SCALE]
    jobs = [(seed, scale, args.threads) for scale in scales for seed in args.seeds]
    results: dict[float, dict[int, dict[str, dict[str, float]]]] = {scale: {} for scale in scales}
    cpu, wall = 0.0, time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for seed, scale, values, seconds in pool.map(_one, *zip(*jobs)):
            results[scale][seed] = values
            cpu += seconds
            print(f"seed {seed} scale {scale}: {values} ({seconds:.0f} s CPU)", flush=True)
    for metric, name in NAMES.items():
        claim = claims.CLAIMS[name]

        def groups(scale: float, metric: str = metric) -> dict[str, list[float]]:
            names = results[scale][args.seeds[0]][metric]
            return {g: [results[scale][s][metric][g] for s in args.seeds] for g in names}

        rec = record.make_record(
            lesson=claim.lesson,
            claim_vi=claim.claim_vi,
            claim_en=claim.claim_en,
            metric=claim.metric,
            groups=groups(1.0),
            config=claim.config(1.0),
            seeds=args.seeds,
            better=claim.better,
            worse=claim.worse,
            cpu_seconds=round(cpu, 1),
            wall_seconds=round(time.perf_counter() - wall, 1),
            script="experiments/deeplabv3plus.py (one training per seed and scale, both metrics)",
            live={"scale": LIVE_SCALE, "config": claim.config(LIVE_SCALE), "groups": groups(LIVE_SCALE)},
        )
        out = record.save(rec, name)
        print(record.Record(name, rec).summary())
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
