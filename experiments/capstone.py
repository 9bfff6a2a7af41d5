"""Lesson 07, the longer setting: every model of the course trained with the same (larger) budget.

Prints the table and writes src/results/capstone.json (package data), which lesson 07 reads with
``src.record.load_json("capstone")``.

    python experiments/capstone.py [--size 96] [--epochs 15] [--train 320] [--val 64]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import torch

import src
from src import compare

OUT = Path(__file__).resolve().parent.parent / "src" / "results" / "capstone.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--train", type=int, default=320)
    parser.add_argument("--val", type=int, default=64)
    parser.add_argument("--no-write", action="store_true", help="print only; do not write the JSON")
    args = parser.parse_args(argv)
    src.set_language("en")
    device = src.get_device()
    start = time.perf_counter()
    rows = compare.compare(
        "mosaic", args.size, args.epochs, args.train, args.val, device=device, progress_bar=sys.stdout.isatty()
    )
    table = compare.as_table(rows)
    print(table.to_string(index=False))
    setting = (
        f"mosaic {args.size}px, {args.train} train / {args.val} val images, {args.epochs} epochs; "
        f"{device.type} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads), "
        f"torch {torch.__version__}; measured {datetime.date.today().isoformat()}; "
        f"total {time.perf_counter() - start:.0f} s"
    )
    print(setting)
    if not args.no_write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps({"setting": setting, "rows": table.to_dict("records")}, indent=1) + "\n")
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
