"""Lesson 03's ablation, longer than the notebook can afford: context modules on the `shapes` mosaics.

Trains the four models of :func:`src.ablations.context_ablation` (no context
module, ASPP without image pooling, full ASPP, pyramid pooling; tiny backbone
at output stride 8) on the `shapes` variant, where a pixel's class depends on
the shape of its region, and prints one markdown table: parameters, training
time, validation mIoU and boundary F (eval mode), mean and spread over seeds.

    python benchmarks/bench_ablation.py                       # 1280 images, 15 epochs, seeds 0 1
    python benchmarks/bench_ablation.py --epochs 30 --seeds 0 1 2 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import src
from src.ablations import ABLATION, context_ablation
from src.data import make_loaders
from src.models import count_parameters
from src.train import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-count", type=int, default=1280)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default=None, help="default: src.get_device()")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    src.set_language("en")
    device = src.get_device(args.device)
    train_loader, val_loader = make_loaders("shapes", size=args.size, batch_size=16, train_count=args.train_count)
    print(
        f"shapes, {args.size} px, {len(train_loader.dataset)} train / {len(val_loader.dataset)} val images, "
        f"{args.epochs} epochs, lr {args.lr}, seeds {args.seeds}, device {device}, torch threads {args.threads}",
        flush=True,
    )
    results: dict[str, list[dict[str, float]]] = {name: [] for name in ABLATION}
    params: dict[str, int] = {}
    for seed in args.seeds:
        src.seed_everything(seed)
        models = context_ablation(num_classes=4, seed=seed)
        for name, model in models.items():
            params[name] = count_parameters(model)
            start = time.perf_counter()
            history = fit(
                model, train_loader, val_loader, epochs=args.epochs, lr=args.lr, device=device, progress_bar=False
            )
            final = dict(history.final, seconds=time.perf_counter() - start, best_miou=max(history.val_miou))
            results[name].append(final)
            print(
                f"  seed {seed} {name:16s} mIoU {final['val_miou']:.3f} (best epoch {final['best_miou']:.3f}) "
                f"boundary F {final['val_boundary_f1']:.3f} {final['seconds']:.0f} s",
                flush=True,
            )

    def stat(name: str, key: str) -> str:
        values = [r[key] for r in results[name]]
        spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
        return f"{statistics.mean(values):.3f}{spread}"

    print("\n| context module | parameters | train time (s, mean) | val mIoU | best-epoch mIoU | val boundary F |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in ABLATION:
        seconds = statistics.mean(r["seconds"] for r in results[name])
        print(
            f"| {name} | {params[name]:,} | {seconds:.0f} | {stat(name, 'val_miou')} | "
            f"{stat(name, 'best_miou')} | {stat(name, 'val_boundary_f1')} |"
        )


if __name__ == "__main__":
    main()
