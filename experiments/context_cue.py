"""Lesson 03: no context module vs ASPP (with / without image pooling) vs pyramid pooling, on the cue data.

python experiments/context_cue.py              # 5 seeds, 2 processes; writes src/results/context_cue.json
"""

from _common import main

if __name__ == "__main__":
    raise SystemExit(main("context_cue"))
