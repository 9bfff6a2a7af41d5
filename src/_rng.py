"""Seeded blocks that leave the caller's random state alone (library code never reseeds the global RNG).

``src.seed_everything(seed)`` is for the *notebook* (lesson 00's convention,
CONTRIBUTING.md). Library functions that need a reproducible draw (building
models with equal initial weights, a self-check, a fixed training run) use
:func:`seeded` instead: inside the block python's ``random``, NumPy's global
generator and torch (CPU and every CUDA device, through
``torch.random.fork_rng``) start from ``seed`` exactly as after
``seed_everything(seed)``; on exit all of them are back where the caller left
them. So the block computes the same numbers as the old
``torch.manual_seed(seed); ...`` and a notebook's later cells no longer depend
on how many numbers a library call happened to draw.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from .i18n import bad_argument

__all__ = ["seeded"]


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with python, NumPy and torch seeded to ``seed``; restore all three global states afterwards."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise bad_argument("seeded", "seed", "một số nguyên >= 0", "an integer >= 0", seed, TypeError)
    if seed < 0:
        raise bad_argument("seeded", "seed", "một số nguyên >= 0", "an integer >= 0", seed)
    py_state = random.getstate()
    np_state = np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        try:
            random.seed(seed)
            np.random.seed(seed % 2**32)
            torch.manual_seed(seed)  # also seeds every CUDA device; fork_rng restores them
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
