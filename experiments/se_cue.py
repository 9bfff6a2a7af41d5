"""Lesson 06: the same small network with and without SE blocks, on the cue data.

python experiments/se_cue.py              # 5 seeds, 2 processes; writes src/results/se_cue.json
"""

from _common import main

if __name__ == "__main__":
    raise SystemExit(main("se_cue"))
