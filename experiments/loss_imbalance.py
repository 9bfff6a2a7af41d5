"""Lesson 03: the same small network trained with BCE, Dice or focal loss on binary_small (small foreground).

python experiments/loss_imbalance.py           # 5 seeds, 2 processes; writes src/results/loss_imbalance.json
"""

from _common import main

if __name__ == "__main__":
    raise SystemExit(main("loss_imbalance"))
