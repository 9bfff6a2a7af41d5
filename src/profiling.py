"""Measuring a model's cost: FLOPs, peak activation memory, latency (lessons 02, 05, 07).

* FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add
  counts as 2 FLOPs, so FLOPs = 2 x MACs).
* Peak activation memory is measured, not estimated: a ``TorchDispatchMode``
  sees every tensor that an operator creates during the call, keeps a running
  total of the bytes of the storages that are still alive (a weak reference per
  tensor tells when it dies; tensors kept by autograd for the backward pass
  stay alive) and records the maximum. Parameters and the input exist before
  the call and are not counted. On CUDA, whose backward runs on another
  thread, the allocator's own peak (``torch.cuda.max_memory_allocated``) is
  used instead.
* Latency is the median wall-clock time of a few runs after a warm-up.
"""

from __future__ import annotations

import statistics
import time
import weakref
from typing import Any

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from .i18n import bad_argument

__all__ = ["MemoryTracker", "count_flops", "latency", "peak_memory", "profile"]


class MemoryTracker(TorchDispatchMode):
    """Running total and peak of the bytes held by tensors created while the mode is active."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[tuple[str, int], list[int]] = {}
        self.current = 0
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                self._track(t)
        return out

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr == 0:
            return
        key = (t.device.type, ptr)
        entry = self.live.get(key)
        if entry is None:
            self.live[key] = [storage.nbytes(), 1]
            self.current += storage.nbytes()
            self.peak = max(self.peak, self.current)
        else:
            entry[1] += 1
        weakref.finalize(t, self._release, key)

    def _release(self, key: tuple[str, int]) -> None:
        entry = self.live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[key]


def _check(model: nn.Module, x: torch.Tensor, fn: str) -> None:
    if not isinstance(model, nn.Module):
        raise bad_argument(fn, "model", "một torch.nn.Module", "a torch.nn.Module", model, TypeError)
    if not isinstance(x, torch.Tensor):
        raise bad_argument(fn, "x", "một tensor đầu vào", "an input tensor", x, TypeError)


def _run(model: nn.Module, x: torch.Tensor, backward: bool) -> None:
    if backward:
        out = model(x)
        if isinstance(out, dict):
            out = out["out"]
        out.float().mean().backward()
        model.zero_grad(set_to_none=True)
    else:
        with torch.no_grad():
            model(x)


def count_flops(model: nn.Module, x: torch.Tensor, backward: bool = False) -> int:
    """FLOPs of one forward (and backward) pass on ``x``; a multiply-add counts as 2."""
    _check(model, x, "count_flops")
    counter = FlopCounterMode(display=False)
    with counter:
        _run(model, x, backward)
    return int(counter.get_total_flops())


def peak_memory(model: nn.Module, x: torch.Tensor, backward: bool = False) -> int:
    """Peak bytes of activations (and gradients when ``backward``) during one pass on ``x``."""
    _check(model, x, "peak_memory")
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
        torch.cuda.reset_peak_memory_stats(x.device)
        base = torch.cuda.memory_allocated(x.device)
        _run(model, x, backward)
        torch.cuda.synchronize(x.device)
        return int(torch.cuda.max_memory_allocated(x.device) - base)
    tracker = MemoryTracker()
    with tracker:
        _run(model, x, backward)
    return int(tracker.peak)


def latency(model: nn.Module, x: torch.Tensor, repeats: int = 3, warmup: int = 1, backward: bool = False) -> float:
    """Median seconds of one pass on ``x`` over ``repeats`` runs after ``warmup`` runs."""
    _check(model, x, "latency")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise bad_argument("latency", "repeats", "một số nguyên >= 1", "an integer >= 1", repeats)
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda *a: None)
    for _ in range(warmup):
        _run(model, x, backward)
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        _run(model, x, backward)
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def profile(
    model: nn.Module, x: torch.Tensor, repeats: int = 1, warmup: int = 0, backward: bool = False
) -> dict[str, Any]:
    """Parameters, FLOPs, peak activation memory (bytes) and latency (s) of ``model`` on ``x``.

    FLOPs and memory come from one instrumented pass; latency from separate,
    uninstrumented passes.
    """
    _check(model, x, "profile")
    counter = FlopCounterMode(display=False)
    if x.device.type == "cuda":
        with counter:
            _run(model, x, backward)
        memory = peak_memory(model, x, backward)
    else:
        tracker = MemoryTracker()
        with counter, tracker:
            _run(model, x, backward)
        memory = tracker.peak
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "flops": int(counter.get_total_flops()),
        "peak_memory": int(memory),
        "latency": latency(model, x, repeats=repeats, warmup=warmup, backward=backward),
    }
