"""Memory, FLOPs and latency of RefineNet on a strided ResNet-101 against DeepLabV3 on a dilated one (lesson 05).

The claim of Lin et al. (RefineNet, arXiv 1611.06612, Sec. 1): a ResNet whose
last strides are replaced by dilation (DeepLab, arXiv 1606.00915 / 1706.05587)
keeps 1/8 resolution in its deepest, widest layers, and pays for it in
computation and memory; RefineNet keeps the backbone strided (1/32) and
recovers resolution with a light cascade. This script measures it, batch 1,
at 512 x 512 (21 classes, ``weights=None``), with ``src.profiling``:

* FLOPs (``FlopCounterMode``, a multiply-add = 2 FLOPs), forward and forward + backward,
  counted on the meta device (the same operators and shapes, instantly);
* peak activation memory (tensors created during the call, parameters and input
  excluded), forward in eval mode under ``no_grad`` and forward + backward in train mode;
* latency of one forward pass (eval mode, median of ``--repeats`` runs).

Models: RefineNet (ResNet-101, full), Light-Weight RefineNet (ResNet-101),
DeepLabV3 (ResNet-101, output stride 8), and the two backbones alone
(ResNet-101 at output stride 32 and at 8, FLOPs only unless ``--backbone-memory``)
to show where the cost comes from.
The figures go to ``src/results/refinenet_memory.json`` (package data), which the
lesson-05 notebook reads with ``src.record.load_json("refinenet_memory")``.

    python experiments/refinenet_memory.py              # 512 x 512, tens of minutes on 2 busy CPU cores
    python experiments/refinenet_memory.py --size 128 --output /tmp/x.json   # quick
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from src.backbones import build_backbone  # noqa: E402
from src.profiling import count_flops, latency, peak_memory  # noqa: E402
from src.refinenet import RefineNet  # noqa: E402

BACKBONES_ALONE = ("resnet101_os32", "resnet101_os8")
DEFAULT_OUTPUT = ROOT / "src" / "results" / "refinenet_memory.json"


class Layer4(nn.Module):
    """A backbone alone, returning its last stage (so that the profiler sees a tensor)."""

    def __init__(self, output_stride: int) -> None:
        super().__init__()
        self.backbone = build_backbone("resnet101", output_stride=output_stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)["layer4"]


def deeplabv3_resnet101_os8(num_classes: int) -> tuple[nn.Module, str]:
    """src.deeplab's DeepLabV3 when present, else torchvision's (same architecture), both weights=None."""
    try:
        from src.deeplab import DeepLabV3

        return DeepLabV3(num_classes, "resnet101", output_stride=8), "src.deeplab.DeepLabV3"
    except ImportError:
        from torchvision.models.segmentation import deeplabv3_resnet101

        return deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=num_classes), "torchvision"


def models(num_classes: int) -> dict[str, tuple[object, str]]:
    """Name -> (builder, description). Builders are called one at a time to keep memory low."""
    return {
        "refinenet_resnet101": (lambda: RefineNet(num_classes, "resnet101"), "RefineNet, ResNet-101 (OS 32)"),
        "lw_refinenet_resnet101": (
            lambda: RefineNet(num_classes, "resnet101", light=True),
            "Light-Weight RefineNet, ResNet-101 (OS 32)",
        ),
        "deeplabv3_resnet101_os8": (
            lambda: deeplabv3_resnet101_os8(num_classes)[0],
            "DeepLabV3, dilated ResNet-101 (OS 8)",
        ),
        "resnet101_os32": (lambda: Layer4(32), "ResNet-101 backbone alone, OS 32"),
        "resnet101_os8": (lambda: Layer4(8), "ResNet-101 backbone alone, dilated, OS 8"),
    }


def flops(build, size: int) -> dict[str, int]:
    """FLOPs counted on the meta device: the same operator shapes as on the CPU, without computing anything."""
    with torch.device("meta"):
        model = build()
        x = torch.randn(1, 3, size, size)
    model.eval()
    forward = count_flops(model, x)
    model.train()
    return {"flops_forward": forward, "flops_forward_backward": count_flops(model, x, backward=True)}


def measure(model: nn.Module, x: torch.Tensor, repeats: int) -> dict[str, float]:
    """Peak activation memory (forward; forward + backward) and forward latency, on the CPU."""
    model.eval()
    row: dict[str, float] = {"memory_forward": peak_memory(model, x, backward=False)}
    row["latency_forward_s"] = latency(model, x, repeats=repeats, warmup=0)
    model.train()
    row["memory_forward_backward"] = peak_memory(model, x, backward=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="input height and width (default 512)")
    parser.add_argument("--classes", type=int, default=21, help="number of classes (default 21, PASCAL VOC)")
    parser.add_argument("--repeats", type=int, default=1, help="forward runs for the latency median")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--only", nargs="*", help="a subset of the model names")
    parser.add_argument("--backbone-memory", action="store_true", help="also measure the backbones' memory")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(1, 3, args.size, args.size)
    chosen = {k: v for k, v in models(args.classes).items() if not args.only or k in args.only}
    results: dict[str, dict[str, float | str]] = {}
    start = time.perf_counter()
    for name, (build, description) in chosen.items():
        t0 = time.perf_counter()
        model = build()
        row: dict[str, float | str] = {"description": description, "params": sum(p.numel() for p in model.parameters())}
        row.update(flops(build, args.size))
        if name in BACKBONES_ALONE and not args.backbone_memory:
            line = "(FLOPs only; --backbone-memory to measure)"
        else:
            row.update(measure(model, x, args.repeats))
            line = (
                f"| peak MiB fwd {row['memory_forward'] / 2**20:7.0f} fwd+bwd {row['memory_forward_backward'] / 2**20:7.0f}"
                f" | latency {row['latency_forward_s']:.2f} s"
            )
        results[name] = row
        del model
        gc.collect()
        print(
            f"{name:26s} params {row['params'] / 1e6:6.1f} M | GFLOPs fwd {row['flops_forward'] / 1e9:7.1f} "
            f"fwd+bwd {row['flops_forward_backward'] / 1e9:7.1f} {line} ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    payload = {
        "what": "RefineNet (strided ResNet-101) vs DeepLabV3 (dilated ResNet-101, OS 8): batch 1, weights=None",
        "input": [1, 3, args.size, args.size],
        "num_classes": args.classes,
        "units": {"flops": "FLOPs (multiply-add = 2)", "memory": "bytes of activations", "latency": "seconds"},
        "memory_method": "src.profiling.peak_memory: forward in eval mode under no_grad; forward+backward in train mode",
        "flops_method": "src.profiling.count_flops on the meta device (same shapes, nothing computed)",
        "deeplabv3_source": _deeplab_source(),
        "machine": {
            "device": "cpu",
            "threads": args.threads,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
            "load_average_1min_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "total_seconds": round(time.perf_counter() - start, 1),
        "models": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output} in {payload['total_seconds']} s")
    return 0


def _deeplab_source() -> str:
    try:
        import src.deeplab  # noqa: F401

        return "src.deeplab.DeepLabV3(21, 'resnet101', output_stride=8)"
    except ImportError:
        return "torchvision.models.segmentation.deeplabv3_resnet101(weights=None, weights_backbone=None)"


if __name__ == "__main__":
    raise SystemExit(main())
