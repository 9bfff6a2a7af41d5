"""Speed of the receptive-field tracer (lesson 01): ``receptive_field`` on torchvision models at 224 px.

Lesson 01's explorer traces a network every time the learner picks another model, so the
trace must feel instant: the target is under 1 s for ResNet-101 on a laptop CPU. This used to
be a wall-clock assertion inside the unit tests, where a busy machine made it fail for no
reason; it lives here now (``make bench``). Prints the median of ``--repeats`` traces per
model and exits with status 1 when ResNet-101's median exceeds ``--budget`` seconds.
The tracer follows the recurrence of Araujo et al., "Computing Receptive Fields of
Convolutional Neural Networks" (Distill 2019); ResNet: He et al., arXiv 1512.03385.

    python benchmarks/bench_receptive_field.py [--repeats 5] [--budget 1.0] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torchvision.models as tvm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from src.receptive_field import receptive_field

MODELS = {"resnet18": tvm.resnet18, "resnet50": tvm.resnet50, "resnet101": tvm.resnet101, "vgg16": tvm.vgg16}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed traces per model (median is reported)")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds allowed for ResNet-101's median trace")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    receptive_field(nn.Conv2d(3, 3, 3), 8)  # warm up imports and the tracer
    medians = {}
    for name, build in MODELS.items():
        model = build(weights=None)
        times, size = [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            size = receptive_field(model, 224).size
            times.append(time.perf_counter() - start)
        medians[name] = statistics.median(times)
        print(f"{name:10s} RF {size!s:>5}  median {medians[name]:.3f} s over {args.repeats} traces", flush=True)
    ok = medians["resnet101"] <= args.budget
    print(f"resnet101 {'within' if ok else 'OVER'} the {args.budget:.1f} s budget")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
