"""Squeeze-and-Excitation inside segmentation models, over several seeds (lesson 06).

Trains lesson 03's DeepLabV3 and lesson 05's light RefineNet (tiny backbone) on
the 5-class texture mosaics with ``se`` = False / "backbone" / "decoder" /
"both" (``src.se.add_se``), the same budget for every variant, and prints the
mean and standard deviation of the validation mIoU over the seeds, the
parameter count and the training time. Hu et al., arXiv 1709.01507; Roy et al.,
arXiv 1803.02579.

    python benchmarks/bench_se.py --seeds 0 1 2 --epochs 8
"""

from __future__ import annotations

import argparse
import statistics

import torch

import src
from src import data, models, train
from src.deeplab import DeepLabV3
from src.refinenet import RefineNet


def build(arch: str, flag: bool | str) -> torch.nn.Module:
    if arch == "deeplabv3":
        return DeepLabV3(5, "tiny", se=flag, atrous_rates=(1, 2, 3), channels=64)  # 4x4 map at OS 16
    return RefineNet(5, "tiny", light=True, se=flag)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--archs", nargs="+", default=["deeplabv3", "refinenet"])
    parser.add_argument("--se", nargs="+", default=["none", "backbone", "decoder", "both"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny models; robust on a shared CPU
    src.set_language("en")
    train_loader, val_loader = data.make_loaders("mosaic", size=64, batch_size=16)
    print(f"device {src.get_device()}, epochs {args.epochs}, seeds {args.seeds}", flush=True)
    print(f"{'model':<12}{'se':<10}{'params':>9}{'mIoU mean':>11}{'mIoU std':>10}{'seconds':>9}", flush=True)
    for arch in args.archs:
        for name in args.se:
            flag = False if name == "none" else name
            scores, seconds = [], []
            for seed in args.seeds:
                src.seed_everything(seed)
                model = build(arch, flag)
                history = train.fit(model, train_loader, val_loader, epochs=args.epochs, progress_bar=False)
                scores.append(history.final["val_miou"])
                seconds.append(history.seconds)
            std = statistics.stdev(scores) if len(scores) > 1 else 0.0
            print(
                f"{arch:<12}{name:<10}{models.count_parameters(model):>9}{statistics.mean(scores):>11.3f}"
                f"{std:>10.3f}{statistics.mean(seconds):>9.1f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
