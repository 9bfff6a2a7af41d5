import random

import numpy as np
import pytest
import torch

import src
from src.i18n import bad_argument, tr


def test_set_language_switches_messages():
    src.set_language("vi")
    assert tr("xin chào", "hello") == "xin chào"
    assert src.get_language() == "vi"
    src.set_language("en")
    assert tr("xin chào", "hello") == "hello"


def test_set_language_rejects_unknown():
    with pytest.raises(ValueError, match="lang"):
        src.set_language("fr")


def test_bad_argument_names_argument_expected_and_got():
    err = bad_argument("f", "rate", "số nguyên >= 1", "an integer >= 1", 0)
    assert isinstance(err, ValueError)
    assert "`rate`" in str(err) and "an integer >= 1" in str(err) and "0" in str(err)
    src.set_language("vi")
    err = bad_argument("f", "rate", "số nguyên >= 1", "an integer >= 1", 0, TypeError)
    assert isinstance(err, TypeError) and "số nguyên >= 1" in str(err)


@pytest.mark.parametrize(
    ("available", "expected"),
    [({"cpu"}, "cpu"), ({"cpu", "mps"}, "mps"), ({"cpu", "cuda"}, "cuda"), ({"cpu", "cuda", "mps"}, "cuda")],
)
def test_get_device_prefers_cuda_then_mps_then_cpu(monkeypatch, available, expected):
    monkeypatch.delenv("SRC_DEVICE", raising=False)
    monkeypatch.setattr(src, "_available", lambda kind: kind in available)
    assert src.get_device().type == expected


def test_get_device_default_is_usable_here(monkeypatch):
    monkeypatch.delenv("SRC_DEVICE", raising=False)
    device = src.get_device()
    mps = getattr(torch.backends, "mps", None)
    expected = "cuda" if torch.cuda.is_available() else "mps" if mps is not None and mps.is_available() else "cpu"
    assert device.type == expected
    assert torch.ones(2, device=device).sum().item() == 2


def test_get_device_env_override(monkeypatch):
    monkeypatch.setenv("SRC_DEVICE", "cpu")
    assert src.get_device().type == "cpu"


def test_get_device_unavailable_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("SRC_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="SRC_DEVICE"):
        src.get_device()
    with pytest.raises(ValueError, match="unknown device"):
        src.get_device("tpu")


def test_seed_everything_makes_runs_repeatable():
    src.seed_everything(123)
    a = (random.random(), np.random.rand(), torch.rand(3))
    src.seed_everything(123)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    assert torch.are_deterministic_algorithms_enabled()
    with pytest.raises(TypeError, match="seed"):
        src.seed_everything(-1)
