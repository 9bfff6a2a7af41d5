"""Lesson 05: save seed 0's two trained ``refinenet_thin`` models (full protocol) for the lesson's figure.

The notebook's live run (one seed at the live scale) is too short for either
model to learn the thin strokes, so the lesson draws the predictions of the two
models trained with the *recorded* protocol on seed 0, loaded from
``src/results/checkpoints/refinenet_thin_seed0.pt`` (fp16 weights, about 0.8 MB),
with its sha256 and the val mIoU each model reached (the record's seed-0 values)
in ``refinenet_thin_seed0.json`` beside it. ``src.claims.refinenet_thin_models()``
verifies the checksum and returns the models in eval mode.

    python experiments/refinenet_thin_checkpoint.py     # one seed, ~1 min CPU
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    import torch

    torch.set_num_threads(1)
    import src
    from src import claims

    src.set_language("en")
    start = time.process_time()
    values, trained, _ = claims.run("refinenet_thin", seed=0, scale=1.0, return_models=True)
    states = {
        g: {k: v.half() if v.is_floating_point() else v for k, v in m.state_dict().items()} for g, m in trained.items()
    }
    buffer = io.BytesIO()
    torch.save({"state_dicts": states}, buffer)
    payload = buffer.getvalue()
    out = ROOT / "src" / "results" / "checkpoints"
    out.mkdir(parents=True, exist_ok=True)
    (out / "refinenet_thin_seed0.pt").write_bytes(payload)
    meta = {
        "claim": "refinenet_thin",
        "seed": 0,
        "scale": 1.0,
        "file": "refinenet_thin_seed0.pt",
        "sha256": hashlib.sha256(payload).hexdigest(),
        "dtype": "float16",
        "val_miou_fp32": values,
        "config": claims.CLAIMS["refinenet_thin"].config(1.0),
        "cpu_seconds": round(time.process_time() - start, 1),
    }
    (out / "refinenet_thin_seed0.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(values, f"{len(payload) / 1e6:.2f} MB", meta["cpu_seconds"], "s CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
