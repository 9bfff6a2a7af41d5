"""Lesson 01: the same six 3x3 layers with dilation 1 (RF 39) or 1-2-4-8 (RF 127), on the outline data at 96 px.

python experiments/rf_dilation.py              # 5 seeds, 2 processes; writes src/results/rf_dilation.json
"""

from _common import main

if __name__ == "__main__":
    raise SystemExit(main("rf_dilation"))
