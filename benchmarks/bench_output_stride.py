"""Price of output stride (lesson 02): ResNet-50 at output stride 32 / 16 / 8 on one 512x512 image.

Prints, for each output stride, the feature-map size, FLOPs, peak activation memory and
CPU latency of inference (latency: median of ``--repeats`` passes after ``--warmup``), the
peak memory of one training step (forward + backward, batch 1: activations kept for the
backward pass plus gradients, including the ~90 MiB of ResNet-50's weight gradients), and
their ratios to output stride 32. The ResNet is torchvision's, built with ``weights=None`` and
``replace_stride_with_dilation`` (DeepLab, arXiv 1606.00915; DeepLabv3, arXiv 1706.05587).

    python benchmarks/bench_output_stride.py [--repeats 5] [--warmup 1] [--size 512] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from src.dilated import output_stride_costs, resnet_backbone
from src.profiling import peak_memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per output stride (median is reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed passes before timing")
    parser.add_argument("--size", type=int, default=512, help="input height = width")
    parser.add_argument("--depth", type=int, default=50, choices=(50, 101))
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--no-train-memory", action="store_true", help="skip the peak memory of a training step (forward + backward)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"resnet{args.depth} (weights=None), input 1x3x{args.size}x{args.size}, device {args.device}, "
        f"{args.threads} threads, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    rows = output_stride_costs(
        (32, 16, 8), args.size, args.depth, repeats=args.repeats, warmup=args.warmup, device=args.device
    )
    if not args.no_train_memory:
        for row in rows:
            torch.manual_seed(0)
            body = resnet_backbone(row["output_stride"], args.depth).to(args.device).train()
            x = torch.randn(1, 3, args.size, args.size, device=args.device)
            row["train_memory"] = peak_memory(body, x, backward=True)
            del body
    base = rows[0]
    header = (
        f"{'OS':>3} {'feature map':>14} {'GFLOPs':>8} {'peak MiB':>9} {'latency s':>10} "
        f"{'FLOPs x':>8} {'memory x':>9} {'latency x':>10}"
        + ("" if args.no_train_memory else f" {'train MiB':>10} {'train x':>8}")
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        fmap = f"{row['channels']}x{row['feature_size']}x{row['feature_size']}"
        print(
            f"{row['output_stride']:>3} {fmap:>14} {row['flops'] / 1e9:>8.1f} {row['peak_memory'] / 2**20:>9.1f} "
            f"{row['latency']:>10.3f} {row['flops'] / base['flops']:>8.2f} "
            f"{row['peak_memory'] / base['peak_memory']:>9.2f} {row['latency'] / base['latency']:>10.2f}"
            + (
                ""
                if args.no_train_memory
                else f" {row['train_memory'] / 2**20:>10.1f} {row['train_memory'] / base['train_memory']:>8.2f}"
            )
        )
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
