"""Lesson 05: Light-Weight RefineNet vs DeepLabV3 on a backbone dilated to OS 8, matched parameters, on ``thin``.

The claim of Lin et al. (RefineNet, arXiv 1611.06612): fusing the high-resolution
features of the early stages recovers detail that a prediction made at a
coarse output stride and upsampled cannot draw. ``src.claims.CLAIMS["refinenet_thin"]``:
the ``thin`` data (strokes 1.5-3 px wide, thinner than an output stride of 8),
the same tiny backbone (strided for RefineNet, dilated to OS 8 for DeepLabV3 with
rates scaled to the 8x8 map), parameter counts within 1 % (``src.claims.refinenet_budget``).

python experiments/refinenet_vs_dilated.py   # 5 seeds, 2 processes; writes src/results/refinenet_thin.json
"""

from _common import main

if __name__ == "__main__":
    raise SystemExit(main("refinenet_thin"))
