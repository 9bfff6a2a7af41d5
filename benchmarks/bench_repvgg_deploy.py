"""RepVGG-A0: latency and peak activation memory of the training form vs the deployed form (lesson 08).

Structural re-parameterisation (Ding et al., arXiv 2101.03697) turns every
three-branch block into one 3x3 convolution. This script measures what that
buys on the CPU: batch 1, 224 x 224, eval mode, 2 threads. The two forms are
timed alternately in one loop (so that machine load hits both alike) and the
ratio of medians is reported; the output of both forms is compared as well.
Writes ``src/results/repvgg_deploy.json`` (read by lesson 08).

    python benchmarks/bench_repvgg_deploy.py [--rounds 15] [--size 224]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch

from src import record, repvgg
from src.profiling import peak_memory


def _time(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(repeats):
            model(x)
        return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--out", default=None, help="results file (default: the package's record)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    train_form = repvgg.repvgg_a0().eval()
    deploy_form = repvgg.deploy(copy.deepcopy(train_form))
    x = torch.randn(1, 3, args.size, args.size)
    with torch.no_grad():
        difference = (train_form(x) - deploy_form(x)).abs().max().item()
        for model in (train_form, deploy_form):  # warm-up
            _time(model, x, 2)
    train_ms, deploy_ms = [], []
    for _ in range(args.rounds):
        train_ms.append(1000 * _time(train_form, x, args.repeats))
        deploy_ms.append(1000 * _time(deploy_form, x, args.repeats))
    memory = {name: peak_memory(m, x) for name, m in (("train_form", train_form), ("deploy_form", deploy_form))}
    ratio = statistics.median(train_ms) / statistics.median(deploy_ms)
    result = record.make_record(
        "08",
        "Sau khi tái tham số hoá, RepVGG-A0 suy luận nhanh hơn trên CPU (cùng đầu ra).",
        "Once re-parameterised, RepVGG-A0 runs inference faster on the CPU (same outputs).",
        "latency_ms",
        {"train_form": train_ms, "deploy_form": deploy_ms},
        {
            "model": "repvgg_a0",
            "image_size": args.size,
            "output_stride": 32,
            "atrous_rates": None,
            "batch": 1,
            "threads": 2,
            "repeats_per_round": args.repeats,
            "note": "the 'seeds' are alternating timing rounds, not training seeds",
        },
        list(range(args.rounds)),
        better="deploy_form",
        worse="train_form",
        higher_is_better=False,
        ratio_of_medians=ratio,
        max_abs_difference=difference,
        peak_activation_bytes=memory,
        params={
            "train_form": sum(p.numel() for p in train_form.parameters()),
            "deploy_form": sum(p.numel() for p in deploy_form.parameters()),
        },
        load_average=os.getloadavg()[0],
    )
    path = record.save(result, "repvgg_deploy", args.out)
    print(
        f"train {statistics.median(train_ms):.1f} ms, deploy {statistics.median(deploy_ms):.1f} ms, "
        f"ratio {ratio:.2f}, t {result['claim_test']['t']:.1f}, max |diff| {difference:.1e}, "
        f"memory {memory}, load {os.getloadavg()[0]:.1f} -> {path}"
    )


if __name__ == "__main__":
    main()
