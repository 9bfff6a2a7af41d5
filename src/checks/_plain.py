"""Plain data for exercise answers: conversion, strict comparison, compact display.

The checks (lessons 00-07, see docs/DESIGN.md "Exercises and checks") and the
grader (``python -m src.grade``) compare a learner's answer with the
reference as *plain* data: ``None``, ``bool``, ``int``, ``float``, ``str``,
lists, dicts with ``str``/``int`` keys, and numpy arrays of bool / integer /
floating dtype. :func:`to_plain` turns whatever a learner returns into that
form and never raises: a value it cannot represent (a pandas Series, a
generator, a bfloat16 or complex tensor, a set, ...) becomes the marker
``{"__unplain__": "<what it was>"}``, which :func:`compare_plain` reports as
the wrong type. The comparison is strict: ``bool`` is not ``int``, an
integer array is not a float array, complex is not real.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..i18n import tr

#: the key of the marker dict that stands for a value to_plain cannot represent
UNPLAIN = "__unplain__"
#: arrays larger than this (elements) are not copied into plain form
MAX_ELEMENTS = 20_000_000
_MAX_DEPTH = 32


def _type_name(value: Any) -> str:
    cls = type(value)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in ("builtins", "") else f"{module}.{name}"


def _marker(what: str) -> dict[str, str]:
    return {UNPLAIN: what}


def is_unplain(value: Any) -> bool:
    """True for the marker :func:`to_plain` puts in place of a value it cannot represent."""
    return type(value) is dict and len(value) == 1 and UNPLAIN in value


def _torch_to_plain(value: Any) -> Any:
    import torch

    dtype = value.dtype
    name = f"torch.Tensor[{str(dtype).replace('torch.', '')}]"
    if value.is_sparse or value.is_quantized or value.is_complex() or dtype in (torch.bfloat16,) or value.is_meta:
        return _marker(name)
    if value.numel() > MAX_ELEMENTS:
        return _marker(f"{name} " + tr("quá lớn", "too large") + f" ({value.numel()})")
    try:
        array = value.detach().cpu().resolve_conj().resolve_neg().numpy().copy()
    except Exception:  # e.g. a dtype numpy does not know (float8, uint16 on old numpy)
        return _marker(name)
    return _array_to_plain(array)


def _array_to_plain(array: np.ndarray) -> Any:
    if type(array) is not np.ndarray:
        try:
            array = np.asarray(array).view(np.ndarray)
        except Exception:
            return _marker(_type_name(array))
    if array.dtype.kind not in "biuf":
        return _marker(f"numpy.ndarray[{array.dtype}]")
    if array.size > MAX_ELEMENTS:
        return _marker("numpy.ndarray " + tr("quá lớn", "too large") + f" ({array.size})")
    return np.array(array, copy=True, order="C")


def to_plain(value: Any, _depth: int = 0) -> Any:
    """Convert a learner's (or a reference's) answer to plain data; never raises.

    torch tensors and numpy arrays become numpy arrays that keep their dtype
    (``bool`` stays ``bool``); numpy scalars become Python scalars of the same
    kind; tuples become lists; dicts keep their ``str``/``int`` keys. Anything
    else becomes ``{"__unplain__": "<type>"}``.
    """
    try:
        return _to_plain(value, _depth)
    except RecursionError:
        return _marker(tr("cấu trúc lồng quá sâu", "nesting too deep"))
    except Exception as exc:  # a hostile __len__, __iter__, __index__ ...
        return _marker(f"{_type_name(value)} ({type(exc).__name__})")


def _to_plain(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return _marker(tr("cấu trúc lồng quá sâu", "nesting too deep"))
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.generic):
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
        return _marker(f"numpy.{type(value).__name__}")
    if isinstance(value, np.ndarray):
        return _array_to_plain(value)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of src
        torch = None
    if torch is not None:
        if isinstance(value, torch.Tensor):
            return _torch_to_plain(value)
        if isinstance(value, torch.Size):
            return [int(v) for v in value]
    # subclasses of the builtins (IntEnum, a str subclass, an int with a forged __eq__): the plain value only
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, complex):
        return _marker("complex")
    if type(value) in (list, tuple):
        return [_to_plain(v, depth + 1) for v in value]
    if type(value) is dict:
        out = {}
        for key, item in value.items():
            if type(key) is bool or type(key) not in (str, int):
                key = repr(key) if type(key) in (bool, float, tuple) else _type_name(key)
            out[key] = _to_plain(item, depth + 1)
        return out
    return _marker(_type_name(value))


# ----------------------------------------------------------------------------------------------- display
def short(value: Any, limit: int = 90) -> str:
    """A compact one-line description of a value (plain or not) for a verdict."""
    try:
        text = _short(value)
    except Exception:
        text = _type_name(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(value: Any) -> str:
    if is_unplain(value):
        return str(value[UNPLAIN])
    if type(value) is int and abs(value) >= 10**15:
        return tr(f"một số nguyên có {len(str(abs(value)))} chữ số", f"an integer with {len(str(abs(value)))} digits")
    if type(value) is float:
        text = f"{value:.6g}"
        return text if any(c in text for c in ".einf") else text + ".0"
    if isinstance(value, np.ndarray):
        if value.size <= 12 and value.ndim <= 2:
            body = np.array2string(value, precision=4, separator=", ").replace("\n", "")
            return f"array({body}, dtype={value.dtype})"
        return f"array shape={tuple(value.shape)} dtype={value.dtype}"
    try:
        import torch
        import torch.nn as nn

        if isinstance(value, torch.Tensor):
            if value.numel() <= 12 and value.dim() <= 2 and not value.is_complex():
                shown = value.detach().cpu()
                shown = shown.float() if shown.dtype in (torch.bfloat16, torch.float16) else shown
                body = np.array2string(shown.numpy(), precision=4, separator=", ")
                return f"tensor({body.replace(chr(10), '')}, dtype={str(value.dtype).replace('torch.', '')})"
            return f"Tensor shape={tuple(value.shape)} dtype={str(value.dtype).replace('torch.', '')}"
        if isinstance(value, nn.Module):
            return _module_summary(value)
    except ImportError:  # pragma: no cover
        pass
    if type(value) in (list, tuple) and len(value) > 8 and all(isinstance(v, dict) for v in value):
        return tr(f"bảng {len(value)} hàng", f"a table of {len(value)} rows")
    if type(value) in (list, tuple):
        inner = ", ".join(_short(v) for v in value[:8]) + (", ..." if len(value) > 8 else "")
        return f"[{inner}]" if type(value) is list else f"({inner}{',' if len(value) == 1 else ''})"
    if type(value) is dict:
        inner = ", ".join(f"{k!r}: {_short(v)}" for k, v in list(value.items())[:8])
        return "{" + inner + (", ..." if len(value) > 8 else "") + "}"
    if value is None or type(value) in (bool, int, str):
        return repr(value)
    return _type_name(value)


def _module_summary(module: Any) -> str:
    import torch.nn as nn

    if isinstance(module, nn.Conv2d):
        return (
            f"Conv2d({module.in_channels}→{module.out_channels}, k={module.kernel_size[0]}"
            f"{', bias' if module.bias is not None else ''})"
        )
    if isinstance(module, nn.BatchNorm2d):
        return (
            f"BatchNorm2d({module.num_features}, eval)"
            if not module.training
            else f"BatchNorm2d({module.num_features})"
        )
    if isinstance(module, nn.ModuleList):
        return (
            "[" + ", ".join(_module_summary(m) for m in list(module)[:4]) + (", ..." if len(module) > 4 else "") + "]"
        )
    return type(module).__name__


# -------------------------------------------------------------------------------------------- comparison
_KIND = {"b": "bool", "i": "int", "u": "int", "f": "float"}


def _kind_name(kind: str) -> tuple[str, str]:
    return {
        "bool": ("kiểu bool (đúng/sai)", "bool"),
        "int": ("số nguyên", "integer"),
        "float": ("số thực", "floating-point"),
    }[kind]


def _scalar_kind(value: Any) -> str | None:
    if type(value) is bool:
        return "bool"
    if type(value) is int:
        return "int"
    if type(value) is float:
        return "float"
    return None


def _describe_expected(expected: Any) -> tuple[str, str]:
    if isinstance(expected, np.ndarray):
        vi, en = _kind_name(_KIND[expected.dtype.kind])
        return (
            f"một mảng/tensor {vi} có shape {tuple(expected.shape)}",
            f"an array/tensor of {en} dtype with shape {tuple(expected.shape)}",
        )
    kind = _scalar_kind(expected)
    if kind == "int":
        return "một số nguyên (int)", "an integer (int)"
    if kind == "float":
        return "một số thực (float)", "a real number (float)"
    if kind == "bool":
        return "True hoặc False", "True or False"
    if expected is None:
        return "None", "None"
    if type(expected) is list:
        return f"một list/tuple gồm {len(expected)} phần tử", f"a list/tuple of {len(expected)} items"
    if type(expected) is dict:
        return "một dict", "a dict"
    if type(expected) is str:
        return "một chuỗi (str)", "a string (str)"
    return type(expected).__name__, type(expected).__name__


def compare_plain(got: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-5, where: str = "") -> str | None:
    """``None`` when the plain ``got`` equals the plain ``expected``, else a short reason (current language).

    Strict about types: ``bool`` is not ``int``; an ``int`` where a ``float`` is expected is accepted (it is a
    real number) but a ``float`` where an ``int`` is expected is not; array dtypes must be of the same kind
    (bool / integer / floating) and shapes equal; floats are compared with ``rtol``/``atol`` (NaN equals NaN).
    """
    try:
        return _compare(got, expected, rtol, atol, where)
    except Exception as exc:  # never raise into the caller
        return tr(f"không so sánh được ({type(exc).__name__}).", f"could not compare ({type(exc).__name__}).")


def _at(where: str) -> str:
    return tr(f" (tại {where})", f" (at {where})") if where else ""


def _wrong_type(got: Any, expected: Any, where: str) -> str:
    vi, en = _describe_expected(expected)
    g = short(got, 60)
    return tr(f"cần {vi}, nhận được {g}{_at(where)}.", f"expected {en}, got {g}{_at(where)}.")


def _compare(got: Any, expected: Any, rtol: float, atol: float, where: str) -> str | None:
    if is_unplain(got):
        return _wrong_type(got, expected, where)
    if isinstance(expected, np.ndarray):
        return _compare_arrays(got, expected, rtol, atol, where)
    kind = _scalar_kind(expected)
    if kind is not None:
        if isinstance(got, np.ndarray) and got.ndim == 0:
            got = got.item()
        gkind = _scalar_kind(got)
        ok_kind = gkind == kind or (kind == "float" and gkind == "int")
        if not ok_kind:
            return _wrong_type(got, expected, where)
        if kind == "float":
            g, e = float(got), float(expected)
            if (math.isnan(g) and math.isnan(e)) or math.isclose(g, e, rel_tol=rtol, abs_tol=atol):
                return None
        elif got == expected:
            return None
        return tr(
            f"nhận được {short(got)}, cần {short(expected)}{_at(where)}.",
            f"got {short(got)}, expected {short(expected)}{_at(where)}.",
        )
    if expected is None or type(expected) is str:
        if type(got) is type(expected) and got == expected:
            return None
        if type(got) is not type(expected):
            return _wrong_type(got, expected, where)
        return tr(
            f"nhận được {short(got)}, cần {short(expected)}{_at(where)}.",
            f"got {short(got)}, expected {short(expected)}{_at(where)}.",
        )
    if type(expected) is list:
        if type(got) is not list or len(got) != len(expected):
            return _wrong_type(got, expected, where)
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            reason = _compare(g, e, rtol, atol, f"{where}[{i}]")
            if reason:
                return reason
        return None
    if type(expected) is dict:
        if type(got) is not dict:
            return _wrong_type(got, expected, where)
        if set(got) != set(expected):
            return tr(
                f"các khoá {sorted(map(str, got))} khác với các khoá cần có {sorted(map(str, expected))}{_at(where)}.",
                f"keys {sorted(map(str, got))} differ from the expected keys {sorted(map(str, expected))}{_at(where)}.",
            )
        for key in expected:
            reason = _compare(got[key], expected[key], rtol, atol, f"{where}[{key!r}]")
            if reason:
                return reason
        return None
    return tr("kiểu của lời giải tham chiếu không hỗ trợ.", "unsupported reference type.")  # pragma: no cover


def _compare_arrays(got: Any, expected: np.ndarray, rtol: float, atol: float, where: str) -> str | None:
    if not isinstance(got, np.ndarray):
        if expected.ndim == 0 and _scalar_kind(got) is not None:
            got = np.asarray(got)
        else:
            return _wrong_type(got, expected, where)
    ekind, gkind = _KIND[expected.dtype.kind], _KIND.get(got.dtype.kind)
    if gkind != ekind:
        vi, en = _kind_name(ekind)
        return tr(
            f"kiểu dữ liệu {got.dtype} không phù hợp: cần kiểu {vi}{_at(where)}.",
            f"dtype {got.dtype} does not fit: expected a {en} dtype{_at(where)}.",
        )
    if ekind == "float" and got.dtype.itemsize < min(4, expected.dtype.itemsize):
        return tr(
            f"kiểu dữ liệu {got.dtype} quá kém chính xác, cần {expected.dtype}{_at(where)}.",
            f"dtype {got.dtype} is too imprecise, expected {expected.dtype}{_at(where)}.",
        )
    if got.shape != expected.shape:
        return tr(
            f"shape {tuple(got.shape)} khác với shape cần có {tuple(expected.shape)}{_at(where)}.",
            f"shape {tuple(got.shape)} differs from the expected shape {tuple(expected.shape)}{_at(where)}.",
        )
    if expected.size == 0:
        return None
    if ekind == "float":
        g, e = got.astype(np.float64), expected.astype(np.float64)
        bad = ~np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    else:
        g, e = got, expected
        bad = got != expected
    count = int(np.count_nonzero(bad))
    if not count:
        return None
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    gv, ev = g[idx].item(), e[idx].item()
    show = (lambda v: f"{v:.6g}") if ekind == "float" else repr
    pos = f"{where}{list(idx)}" if idx else where or "[]"
    return tr(
        f"{count}/{expected.size} phần tử sai; ví dụ tại {pos}: nhận được {show(gv)}, cần {show(ev)}.",
        f"{count}/{expected.size} elements are wrong; e.g. at {pos}: got {show(gv)}, expected {show(ev)}.",
    )
