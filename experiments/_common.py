"""Shared runner of the experiments: one claim of ``src.claims`` over seeds, stored with ``src.record``.

Every script in this folder is ``main("<claim name>")``. It trains every group of
the claim for each seed at the full protocol and at the lessons' live scale,
in up to ``--jobs`` processes (one torch thread each; run it under ``nice -n 10``), and writes
``src/results/<name>.json`` (DESIGN's schema, plus ``live``: the same groups at
the live scale, which the lesson's live run and tests/test_experiments.py are
compared with).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: the scale of the lessons' live run (fewer images and epochs than the recorded protocol)
LIVE_SCALE = 0.35


def _one(name: str, seed: int, scale: float, threads: int) -> tuple[int, float, dict[str, float], float]:
    """One seed of claim ``name`` at ``scale`` (all groups at the full protocol, better/worse at the live scale)."""
    import torch

    torch.set_num_threads(threads)
    import src
    from src import claims

    src.set_language("en")
    start = time.process_time()
    claim = claims.CLAIMS[name]
    groups = None if scale == 1.0 else [claim.worse, claim.better]
    values = claims.run(name, seed=seed, scale=scale, groups=groups)
    return seed, scale, values, time.process_time() - start


def main(name: str, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=f"Run the claim {name!r} over seeds and record it.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2, help="parallel processes (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--no-live", action="store_true", help="skip the live-scale runs")
    parser.add_argument("--out", type=Path, default=None, help="default: src/results/<name>.json")
    args = parser.parse_args(argv)

    from src import claims, record

    claim = claims.CLAIMS[name]
    scales = [1.0] + ([] if args.no_live else [LIVE_SCALE])
    jobs = [(name, seed, scale, args.threads) for scale in scales for seed in args.seeds]
    results: dict[float, dict[int, dict[str, float]]] = {scale: {} for scale in scales}
    cpu = 0.0
    wall = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for seed, scale, values, seconds in pool.map(_one, *zip(*jobs)):
            results[scale][seed] = values
            cpu += seconds
            shown = ", ".join(f"{g} {v:.3f}" for g, v in values.items())
            print(f"{name} seed {seed} scale {scale}: {shown} ({seconds:.0f} s CPU)", flush=True)

    def groups(scale: float) -> dict[str, list[float]]:
        names = results[scale][args.seeds[0]]
        return {g: [results[scale][s][g] for s in args.seeds] for g in names}

    extra = {"cpu_seconds": round(cpu, 1), "wall_seconds": round(time.perf_counter() - wall, 1)}
    if not args.no_live:
        extra["live"] = {"scale": LIVE_SCALE, "config": claim.config(LIVE_SCALE), "groups": groups(LIVE_SCALE)}
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
        **extra,
    )
    out = record.save(rec, name, args.out)
    print(record.Record(name, rec).summary())
    print(f"wrote {out} ({cpu:.0f} s CPU)")
    return 0
