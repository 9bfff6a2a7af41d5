"""How one operation changes the receptive field: the recurrence per layer and the union at merges (lesson 01).

Along each axis a layer with kernel ``k``, stride ``s``, dilation ``d`` and padding ``p``
maps ``(r, j, c)`` to ``(r + (k' - 1) j, j s, c + ((k' - 1) / 2 - p) j)`` with ``k' = d (k - 1) + 1``
(Araujo et al., Distill 2019; Dumoulin & Visin, arXiv 1603.07285). Used by :mod:`.tracer`.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import fx

from ..i18n import bad_argument, tr
from .report import LayerRow, Pair, _pair, _show


@dataclass(frozen=True)
class _Axis:
    rf: float
    jump: float
    start: float
    size: int
    first: float = 0.0  # first and last input pixel that the tensor reads at all
    last: float = math.inf


@dataclass(frozen=True)
class _Field:
    """State of one tensor: one _Axis per spatial axis; ``whole`` when every output sees the whole input."""

    axes: tuple[_Axis, _Axis]
    whole: bool = False


class _NonSpatial:
    """A tensor without spatial axes any more (after flatten / linear / global pooling)."""


_NONSPATIAL = _NonSpatial()


# pointwise or channel-only operations: the receptive field passes through unchanged
_POINTWISE_MODULES = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Hardtanh,
    nn.Softmax,
    nn.LogSoftmax,
    nn.Identity,
    nn.Dropout,
    nn.Dropout2d,
    nn.BatchNorm2d,
    nn.SyncBatchNorm,
    nn.GroupNorm,
)
_POINTWISE_FUNCTIONS = {
    F.relu,
    F.relu6,
    F.leaky_relu,
    F.gelu,
    F.silu,
    F.sigmoid,
    F.tanh,
    F.hardswish,
    F.dropout,
    F.dropout2d,
    F.softmax,
    F.log_softmax,
    F.batch_norm,
    torch.relu,
    torch.sigmoid,
    torch.tanh,
    operator.neg,
}
_POINTWISE_METHODS = {
    "relu",
    "relu_",
    "sigmoid",
    "tanh",
    "contiguous",
    "clone",
    "detach",
    "float",
    "softmax",
    "neg",
}
_MERGE_FUNCTIONS = {
    operator.add,
    operator.iadd,
    operator.mul,
    operator.imul,
    operator.sub,
    operator.truediv,
    torch.add,
    torch.mul,
    torch.sub,
}
_MERGE_METHODS = {"add", "add_", "mul", "mul_", "sub", "div", "expand_as"}


class _Tracer(fx.Tracer):
    """Like fx's default tracer; common torchvision helpers stay leaves when they are nn.Modules."""


def _unsupported(name: str, what: str) -> ValueError:
    return ValueError(
        tr(
            f"receptive_field: không biết cách tính trường tiếp nhận qua `{name}` ({what}); "
            "phép này không được hỗ trợ (hãy chọn đầu ra trước nó bằng tham số `output`).",
            f"receptive_field: does not know how to propagate the receptive field through `{name}` ({what}); "
            "this operation is unsupported (choose an output before it with the `output` argument).",
        )
    )


def _check_size(input_size: Any, fn: str) -> Pair:
    size = _pair(input_size) if isinstance(input_size, (int, tuple, list)) else None
    ok = (
        size is not None
        and (not isinstance(input_size, (tuple, list)) or len(input_size) in (2, 3, 4))
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size)
    )
    if isinstance(input_size, (tuple, list)) and len(input_size) in (3, 4):  # (C, H, W) or (N, C, H, W)
        size = (input_size[-2], input_size[-1])
        ok = all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in input_size)
    if not ok:
        raise bad_argument(
            fn,
            "input_size",
            "một số nguyên >= 1 hoặc (cao, rộng)",
            "an integer >= 1 or (height, width)",
            input_size,
        )
    return int(size[0]), int(size[1])


def _window(state: _Field, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool, name: str) -> _Field:
    """Apply one sliding-window operation (convolution or pooling) to both axes."""
    k, s, p, d = _pair(kernel), _pair(stride), _pair(padding), _pair(dilation)
    axes = []
    for a in range(2):
        ax = state.axes[a]
        keff = d[a] * (k[a] - 1) + 1
        span = ax.size + 2 * p[a] - keff
        if span < 0:
            raise ValueError(
                tr(
                    f"receptive_field: ảnh vào quá nhỏ: tại `{name}` bản đồ đặc trưng còn {ax.size} điểm "
                    f"nhưng cửa sổ cần {keff - 2 * p[a]}; hãy tăng `input_size`.",
                    f"receptive_field: input too small: at `{name}` the feature map has {ax.size} positions "
                    f"but the window needs {keff - 2 * p[a]}; increase `input_size`.",
                )
            )
        out = (math.ceil(span / s[a]) if ceil_mode else span // s[a]) + 1
        if ceil_mode and (out - 1) * s[a] >= ax.size + p[a]:
            out -= 1
        last_index = min(ax.size - 1, (out - 1) * s[a] - p[a] + keff - 1)  # last input position read
        axes.append(
            _Axis(
                rf=ax.rf + (keff - 1) * ax.jump,
                jump=ax.jump * s[a],
                start=ax.start + ((keff - 1) / 2 - p[a]) * ax.jump,
                size=out,
                first=ax.first,
                last=min(ax.last, ax.start + last_index * ax.jump + (ax.rf - 1) / 2),
            )
        )
    return _Field((axes[0], axes[1]), state.whole)


def _merge(states: list[_Field], name: str) -> _Field:
    """Union of the inputs' boxes (addition, concatenation along channels, products)."""
    if len(states) == 1:
        return states[0]
    sizes = {tuple(s.axes[a].size for a in range(2)) for s in states if not s.whole}
    sizes |= {tuple(s.axes[a].size for a in range(2)) for s in states if s.whole}
    sizes.discard((1, 1))  # broadcasting a 1x1 map (e.g. an SE gate) keeps the other shape
    if len(sizes) > 1:
        raise _unsupported(
            name, tr(f"kích thước không gian khác nhau {sorted(sizes)}", f"different spatial sizes {sorted(sizes)}")
        )
    local = [s for s in states if not s.whole]
    whole = len(local) < len(states)
    if not local:
        return states[0]
    axes = []
    for a in range(2):
        jumps = {s.axes[a].jump for s in local}
        if len(jumps) > 1:
            raise _unsupported(
                name,
                tr(
                    f"các nhánh có bước nhảy khác nhau {sorted(jumps)}",
                    f"branches with different jumps {sorted(jumps)}",
                ),
            )
        lo = min(s.axes[a].start - (s.axes[a].rf - 1) / 2 for s in local)
        hi = max(s.axes[a].start + (s.axes[a].rf - 1) / 2 for s in local)
        size = max(s.axes[a].size for s in states)
        first = min(s.axes[a].first for s in local)
        last = max(s.axes[a].last for s in local)
        axes.append(_Axis(hi - lo + 1, local[0].axes[a].jump, (lo + hi) / 2, size, first, last))
    return _Field((axes[0], axes[1]), whole)


def _row(name: str, op: str, state: _Field, k: Any = 1, s: Any = 1, d: Any = 1, p: Any = 0) -> LayerRow:
    ax = state.axes
    return LayerRow(
        name=name,
        op=op,
        kernel=_show(_pair(k)),
        stride=_show(_pair(s)),
        dilation=_show(_pair(d)),
        padding=_show(_pair(p)),
        rf=_show((ax[0].rf, ax[1].rf)),
        jump=_show((ax[0].jump, ax[1].jump)),
        start=_show((ax[0].start, ax[1].start)),
        size=_show((ax[0].size, ax[1].size)),
    )


def _tensors(value: Any) -> list[Any]:
    """The traced states among a node's arguments (flattening lists / tuples)."""
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return [value] if isinstance(value, (_Field, _NonSpatial)) else []


def _conv_padding(module: nn.Conv2d) -> Any:
    if isinstance(module.padding, str):
        if module.padding == "valid":
            return 0
        return tuple(d * (k - 1) // 2 for k, d in zip(module.kernel_size, module.dilation))
    return module.padding


def _pool_output(requested: Any, current: _Field) -> tuple[int, int]:
    req = _pair(requested)
    return tuple(current.axes[a].size if req[a] is None else int(req[a]) for a in range(2))  # type: ignore[return-value]


def _adaptive(state: _Field, requested: Any, name: str) -> tuple[Any, LayerRow | None]:
    out = _pool_output(requested, state)
    ins = (state.axes[0].size, state.axes[1].size)
    if out == ins and out != (1, 1):
        return state, None
    if out != (1, 1) and all(i % o == 0 for i, o in zip(ins, out)):
        k = tuple(i // o for i, o in zip(ins, out))
        new = _window(state, k, k, 0, 1, False, name)
        return new, _row(name, "adaptive pool", new, k, k)
    axes = tuple(_Axis(math.inf, math.inf, 0.0, o) for o in out)
    return _Field(axes, whole=True), None  # type: ignore[arg-type]


def _module_step(module: nn.Module, name: str, fields: list[_Field], inputs: list[Any]) -> tuple[Any, LayerRow | None]:
    x = fields[0] if fields else None
    if x is None:
        return _NONSPATIAL, None
    if isinstance(module, nn.Conv2d):
        if module.padding_mode == "circular":
            raise _unsupported(name, "Conv2d(padding_mode='circular')")
        pad = _conv_padding(module)
        new = _window(x, module.kernel_size, module.stride, pad, module.dilation, False, name)
        return new, _row(name, "conv", new, module.kernel_size, module.stride, module.dilation, pad)
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        stride = module.stride if module.stride is not None else module.kernel_size
        dil = getattr(module, "dilation", 1)
        new = _window(x, module.kernel_size, stride, module.padding, dil, module.ceil_mode, name)
        op = "max pool" if isinstance(module, nn.MaxPool2d) else "avg pool"
        return new, _row(name, op, new, module.kernel_size, stride, dil, module.padding)
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return _adaptive(x, module.output_size, name)
    if isinstance(module, _POINTWISE_MODULES):
        return x, None
    if isinstance(module, (nn.Flatten, nn.Linear)):
        return _NONSPATIAL, None
    raise _unsupported(name, type(module).__name__)


def _function_step(
    fn: Any, name: str, args: tuple, kwargs: dict, fields: list[_Field], inputs: list[Any]
) -> tuple[Any, LayerRow | None]:
    if fn in _POINTWISE_FUNCTIONS:
        return fields[0], None
    if fn in _MERGE_FUNCTIONS:
        return _merge(fields, name), _row(name, "merge", _merge(fields, name)) if len(fields) > 1 else None
    if fn is torch.cat:
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        if dim not in (1, -3):
            raise _unsupported(name, f"torch.cat(dim={dim})")
        new = _merge(fields, name)
        return new, (_row(name, "cat", new) if len(fields) > 1 else None)
    if fn is getattr and args[1] in ("shape", "dtype", "device", "ndim"):
        return None, None
    if fn is operator.getitem:
        container = args[0]
        if isinstance(container, (list, tuple, dict)):
            return container[args[1]], None
        raise _unsupported(name, "getitem")
    if fn in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
        return _adaptive(fields[0], args[1] if len(args) > 1 else kwargs["output_size"], name)
    if fn in (F.max_pool2d, F.avg_pool2d):
        k = args[1] if len(args) > 1 else kwargs["kernel_size"]
        s = args[2] if len(args) > 2 else kwargs.get("stride") or k
        p = args[3] if len(args) > 3 else kwargs.get("padding", 0)
        d = (args[4] if len(args) > 4 else kwargs.get("dilation", 1)) if fn is F.max_pool2d else 1
        ceil = kwargs.get("ceil_mode", False)
        new = _window(fields[0], k, s, p, d, ceil, name)
        return new, _row(name, "pool", new, k, s, d, p)
    if fn in (torch.flatten, F.linear):
        return _NONSPATIAL, None
    if fn in (F.interpolate, F.upsample, F.upsample_bilinear) and fields[0].whole:
        return fields[0], None
    fname = getattr(fn, "__name__", str(fn))
    raise _unsupported(name, f"{getattr(fn, '__module__', '')}.{fname}")


def _method_step(
    method: str, name: str, args: tuple, kwargs: dict, fields: list[_Field], inputs: list[Any]
) -> tuple[Any, LayerRow | None]:
    if method in _POINTWISE_METHODS:
        return fields[0], None
    if method in _MERGE_METHODS:
        new = _merge(fields, name)
        return new, (_row(name, "merge", new) if len(fields) > 1 else None)
    if method in ("size", "dim"):
        return None, None
    if method in ("flatten", "view", "reshape"):
        return _NONSPATIAL, None
    if method == "mean":
        dims = args[1] if len(args) > 1 else kwargs.get("dim")
        dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
        if set(dims) >= {2, 3} or set(dims) >= {-1, -2}:
            keep = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
            if not keep:
                return _NONSPATIAL, None
            axes = tuple(_Axis(math.inf, math.inf, 0.0, 1) for _ in range(2))
            return _Field(axes, whole=True), None  # type: ignore[arg-type]
    raise _unsupported(name, f"Tensor.{method}")
