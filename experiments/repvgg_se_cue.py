"""Lesson 08: a small RepVGG with and without SE inside every block, on the cue data.

python experiments/repvgg_se_cue.py              # 5 seeds, 2 processes; writes src/results/repvgg_se_cue.json
"""

from _common import main

if __name__ == "__main__":
    raise SystemExit(main("repvgg_se_cue"))
