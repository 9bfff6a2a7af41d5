"""Shared test set-up: offline, CPU, static widgets, deterministic seeds, English by default."""

import os

os.environ.setdefault("SRC_NO_WIDGETS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest

import src


@pytest.fixture(autouse=True)
def _language_and_seed():
    src.set_language("en")
    src.seed_everything(0)
    yield
    src.set_language("en")
