import pytest
import torch
import torch.nn as nn

from src import profiling


def test_flops_of_a_convolution_match_the_formula():
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=False)
    x = torch.randn(2, 8, 10, 12)
    # each output element needs 8*3*3 multiply-adds, counted as 2 FLOPs
    assert profiling.count_flops(conv, x) == 2 * (2 * 16 * 10 * 12) * (8 * 9)


def test_peak_memory_counts_live_activations_only():
    conv = nn.Conv2d(4, 4, 3, padding=1)
    x = torch.randn(1, 4, 32, 32)
    one = 4 * 32 * 32 * 4  # bytes of one activation map
    model = nn.Sequential(conv, nn.ReLU(), conv)
    # no grad: the first conv's output dies once ReLU's is made; never more than two maps alive
    assert profiling.peak_memory(model.eval(), x) == 2 * one


def test_peak_memory_grows_with_backward():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
    x = torch.randn(2, 3, 16, 16)
    assert profiling.peak_memory(model, x, backward=True) > profiling.peak_memory(model, x)


def test_profile_reports_everything():
    model = nn.Conv2d(3, 4, 1)
    report = profiling.profile(model, torch.randn(1, 3, 8, 8))
    assert report["params"] == 16
    assert report["flops"] == 2 * 4 * 64 * 3
    assert report["peak_memory"] == 4 * 64 * 4
    assert report["latency"] > 0


def test_bad_input():
    with pytest.raises(TypeError, match="model"):
        profiling.count_flops("not a model", torch.randn(1))
    with pytest.raises(ValueError, match="repeats"):
        profiling.latency(nn.Identity(), torch.randn(1), repeats=0)
