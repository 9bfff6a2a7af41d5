"""Shared test set-up: offline, CPU, static widgets, deterministic seeds, English by default.

Torch's thread count is set here, once, for the whole session (test modules must not set it at import
time: the last module collected would win for every test). ``SRC_TEST_THREADS`` overrides the default
of min(2, CPU count); a test that changes it gets it restored afterwards.
"""

import os

os.environ.setdefault("SRC_NO_WIDGETS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch

import src

torch.set_num_threads(int(os.environ.get("SRC_TEST_THREADS") or min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _language_seed_and_threads():
    threads = torch.get_num_threads()
    src.set_language("en")
    src.seed_everything(0)
    yield
    src.set_language("en")
    torch.set_num_threads(threads)
