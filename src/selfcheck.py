"""``python -m src.selfcheck``: run the core of every lesson on ``src.get_device()`` and time it.

One line per lesson: the device, the seconds it took and a short summary. It
is the quick way to see that the course runs on a GPU (or MPS) exactly as on
the CPU: set ``SRC_DEVICE=cpu`` to compare both on one machine.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

import torch

from . import get_device, seed_everything, set_language
from .i18n import tr

# lesson -> module whose ``selfcheck_core(device) -> str`` runs the lesson's core
LESSONS = {
    "00": "src.selfcheck",
    "01": "src.receptive_field",
    "02": "src.dilated",
    "03": "src.deeplab",
    "04": "src.crf",
    "05": "src.refinenet",
    "06": "src.se",
    "07": "src.compare",
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def core_00(device: torch.device) -> str:
    """FCN baseline: a few training steps on the mosaics, then mIoU on a val batch."""
    from . import data, metrics, models

    train_set = data.TextureMosaics("mosaic", "train", size=64, count=32)
    model = models.FCN(5, output_stride=8).to(device)
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    images = torch.stack([train_set[i][0] for i in range(32)]).to(device)
    masks = torch.from_numpy(train_set.masks).long().to(device)
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(model(images), masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        miou = metrics.mean_iou(model(images).argmax(1).cpu(), masks.cpu(), 5)
    return f"FCN loss {loss.item():.3f}, train-batch mIoU {miou:.3f}"


def run(lessons: list[str], device: torch.device) -> list[tuple[str, bool, float, str]]:
    rows = []
    for lesson in lessons:
        seed_everything(0)
        name = LESSONS[lesson]
        try:
            fn = (
                globals()[f"core_{lesson}"] if name == "src.selfcheck" else importlib.import_module(name).selfcheck_core
            )
            _sync(device)
            start = time.perf_counter()
            summary = fn(device)
            _sync(device)
            rows.append((lesson, True, time.perf_counter() - start, summary))
        except Exception as exc:
            rows.append((lesson, False, 0.0, f"{type(exc).__name__}: {exc}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("lessons", nargs="*", default=sorted(LESSONS), help="lesson numbers (default: all)")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: src.get_device())")
    parser.add_argument("--lang", choices=("vi", "en"), default=None)
    args = parser.parse_args(argv)
    if args.lang:
        set_language(args.lang)
    unknown = [lesson for lesson in args.lessons if lesson not in LESSONS]
    if unknown:
        parser.error(f"unknown lessons: {unknown}")
    device = get_device(args.device)
    total = time.perf_counter()
    rows = run(args.lessons, device)
    for lesson, ok, seconds, summary in rows:
        status = "ok" if ok else tr("LỖI", "FAIL")
        print(f"{tr('bài', 'lesson')} {lesson}  {device.type:5s} {seconds:7.2f} s  {status:4s} {summary}")
    print(
        tr(
            f"tổng: {time.perf_counter() - total:.1f} s trên {device}",
            f"total: {time.perf_counter() - total:.1f} s on {device}",
        )
    )
    return 0 if all(ok for _, ok, _, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
