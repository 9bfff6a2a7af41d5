"""Lesson 08: DeepLabV3 vs DeepLabV3+ (the OS-4 skip) on the thin data, mIoU.

python experiments/deeplabv3plus_miou.py              # 5 seeds, 2 processes; writes src/results/deeplabv3plus_miou.json
"""

from _common import main

if __name__ == "__main__":
    raise SystemExit(main("deeplabv3plus_miou"))
