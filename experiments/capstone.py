"""Lesson 07: every capstone model (src.compare.architectures()) over 5 seeds, with and without the dense CRF.

python experiments/capstone.py            # 5 seeds, 2 processes; writes src/results/capstone.json
python experiments/capstone.py --se       # also every model + SE (twice the CPU time)

For each seed and model: val mIoU and boundary F without / with the CRF, parameters, FLOPs, latency (median
of 5 runs) and peak activation memory, at the recorded protocol (``compare.PROTOCOLS["full"]``) and at the
lesson's live one (``"live"``, what the notebook trains). The record (src.record's schema) has ``groups`` =
val mIoU per model, ``claim_test`` = the best vs the worst model by mean mIoU (a comparison chosen after
measuring, which the lesson says), ``rank`` (src.compare.noise_rank), ``crf_tests`` (Welch t of each model
with vs without the CRF), ``metrics`` (every other column per seed) and ``live``. Seed 0's trained models are
saved as fp16 checkpoints in src/results/checkpoints/ (src.compare.load_checkpoint).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COLUMNS = ("boundary_f1", "miou_crf", "boundary_f1_crf", "latency_ms")


def _one(seed: int, protocol: str, arch: str, se_options: tuple[bool, ...], keep: bool, threads: int):
    import torch

    torch.set_num_threads(threads)
    import src
    from src import compare

    src.set_language("en")
    start = time.process_time()
    rows = compare.compare(
        **compare.PROTOCOLS[protocol], archs=(arch,), se_options=se_options, seed=seed, device="cpu",
        progress_bar=False, keep_models=keep,
    )  # fmt: skip
    out = []
    for r in rows:
        state = {k: v.clone() for k, v in r.module.state_dict().items()} if keep else None
        fields = {k: getattr(r, k) for k in ("model", "se", "miou", "params", "mflops", "peak_memory_mib", *COLUMNS)}
        out.append({**fields, "arch": arch, "label": r.label, "state": state})
    return seed, protocol, out, time.process_time() - start


def _collect(results: dict[int, list[dict]], seeds: list[int]) -> tuple[dict, dict]:
    """groups (label -> per-seed mIoU) and metrics (label -> the other columns) from per-seed rows."""
    first = results[seeds[0]]
    groups = {r["label"]: [] for r in first}
    metrics = {
        r["label"]: {"model": r["model"], "se": r["se"], "arch": r["arch"], "params": r["params"],
                     "mflops": round(r["mflops"], 3), "peak_memory_mib": round(r["peak_memory_mib"], 4),
                     **{c: [] for c in COLUMNS}}
        for r in first
    }  # fmt: skip
    for seed in seeds:
        for r in results[seed]:
            groups[r["label"]].append(r["miou"])
            for c in COLUMNS:
                metrics[r["label"]][c].append(r[c])
    return groups, metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2, help="parallel processes (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--se", action="store_true", help="also every model + SE")
    parser.add_argument("--no-checkpoints", action="store_true")
    args = parser.parse_args(argv)

    import src
    from src import compare, data, record

    src.set_language("en")
    archs = list(compare.architectures())
    se_options = (False, True) if args.se else (False,)
    jobs = []
    for protocol in ("full", "live"):
        for seed in args.seeds:
            for arch in archs:
                keep = protocol == "full" and seed == args.seeds[0] and not args.no_checkpoints
                jobs.append((seed, protocol, arch, se_options if protocol == "full" else (False,), keep, args.threads))
    results: dict[str, dict[int, list[dict]]] = {"full": {}, "live": {}}
    states = {}
    cpu, wall = 0.0, time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for seed, protocol, rows, seconds in pool.map(_one, *zip(*jobs)):
            cpu += seconds
            for r in rows:
                state = r.pop("state")
                if state is not None and not r["se"]:
                    states[r["arch"]] = (state, r)
                results[protocol].setdefault(seed, []).append(r)
                print(f"{protocol} seed {seed} {r['label']}: mIoU {r['miou']:.3f} (+CRF {r['miou_crf']:.3f}), "
                      f"boundary F {r['boundary_f1']:.3f} (+CRF {r['boundary_f1_crf']:.3f}); {seconds:.0f} s CPU",
                      flush=True)  # fmt: skip
    order = {label: i for i, label in enumerate(compare.row_label(compare.NAMES[a], se) for a in archs
                                                 for se in se_options)}  # fmt: skip
    for protocol in results:
        for seed in results[protocol]:
            results[protocol][seed].sort(key=lambda r: order[r["label"]])
    groups, metrics = _collect(results["full"], args.seeds)
    live_groups, live_metrics = _collect(results["live"], args.seeds)
    means = {g: statistics.fmean(v) for g, v in groups.items()}
    best, worst = max(means, key=means.get), min(means, key=means.get)
    crf_tests = {
        g: {
            "miou_t": record.welch_t(m["miou_crf"], groups[g]),
            "boundary_f1_t": record.welch_t(m["boundary_f1_crf"], m["boundary_f1"]),
        }
        for g, m in metrics.items()
    }
    full = compare.PROTOCOLS["full"]
    config = {
        **{k: v for k, v in full.items() if k != "size"},
        "image_size": full["size"],
        "output_stride": 8,
        "atrous_rates": [2, 4, 6],
        "feature_map": full["size"] // 8,
        "lr": 3e-3,
        "batch_size": 16,
        "optimizer": "Adam + OneCycle (src.train.fit)",
        "evaluation": "val split, eval mode, after the last epoch",
        "crf": {"method": "fast", **compare.MOSAIC_CRF, "iterations": 5},
        "models": {a: compare.NAMES[a] for a in archs},
        "se": bool(args.se),
        "threads_per_process": args.threads,
        "processes": args.jobs,
        "latency": "median of 5 runs of one 64 x 64 image (src.profiling), on the recording machine under load",
    }
    rec = record.make_record(
        lesson="07",
        claim_vi=(
            f"Trong {len(groups)} mô hình của bảng, {best} có mIoU kiểm định cao hơn {worst} (mô hình tốt nhất "
            "và kém nhất theo trung bình, chọn sau khi đo)."
        ),
        claim_en=(
            f"Of the table's {len(groups)} models, {best} has a higher val mIoU than {worst} (the best and the "
            "worst by mean, chosen after measuring)."
        ),
        metric="val_miou",
        groups=groups,
        config=config,
        seeds=args.seeds,
        better=best,
        worse=worst,
        metrics=metrics,
        rank=compare.noise_rank(groups),
        rank_rule={
            "vi": "hạng = 1 + số mô hình có mIoU cao hơn với t của Welch >= 2",
            "en": "rank = 1 + the number of models whose mIoU is higher with Welch t >= 2",
        },
        crf_tests=crf_tests,
        live={"config": compare.PROTOCOLS["live"], "groups": live_groups, "metrics": live_metrics},
        cpu_seconds=round(cpu, 1),
        wall_seconds=round(time.perf_counter() - wall, 1),
    )
    out = record.save(rec, "capstone")
    num_classes = len(data.CLASSES[full["variant"]])
    for arch, (state, r) in states.items():
        model = compare.build_model(arch, num_classes)
        model.load_state_dict(state)
        path = compare.save_checkpoint(
            model, arch, arch, num_classes, se=False, output_stride=8, seed=args.seeds[0], protocol=full,
            val_miou=round(r["miou"], 4), record="capstone",
        )  # fmt: skip
        print(f"checkpoint {path.name}: {path.stat().st_size / 1024:.0f} KiB")
    print(record.Record("capstone", rec).summary())
    print("rank:", rec["rank"])
    print("CRF t:", {g: {k: round(v, 2) for k, v in t.items()} for g, t in crf_tests.items()})
    print(f"wrote {out} ({cpu:.0f} s CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
