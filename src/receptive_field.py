"""The receptive field of a CNN: exact theoretical RF by graph tracing, and the effective RF (lesson 01).

Theory (Araujo et al., "Computing Receptive Fields of Convolutional Neural
Networks", Distill 2019; Dumoulin & Visin, arXiv 1603.07285): along each axis a
layer with kernel ``k``, stride ``s``, dilation ``d`` and padding ``p`` maps
``(r, j, c)`` -- receptive field size, jump (distance in input pixels between
two neighbouring outputs) and centre of the first output's field -- to::

    k' = d (k - 1) + 1
    r  <- r + (k' - 1) j
    c  <- c + ((k' - 1) / 2 - p) j
    j  <- j s

:func:`receptive_field` traces the model with ``torch.fx`` and propagates
``(r, j, c)`` node by node, so branches that merge by addition or
concatenation (ResNet, DenseNet, Inception) are handled exactly: a merge takes
the union of its inputs' boxes. An operation it does not know is named in an
error, never skipped. :func:`effective_receptive_field` measures the gradient
of one output unit with respect to the input, averaged over random inputs
(Luo et al., "Understanding the Effective Receptive Field in Deep
Convolutional Neural Networks", arXiv 1605.04876).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import fx

from .i18n import bad_argument, tr

__all__ = [
    "LayerRow",
    "RFLadder",
    "RFReport",
    "conv_chain",
    "effective_receptive_field",
    "erf_coverage",
    "explorer",
    "receptive_field",
    "rf_of_chain",
    "selfcheck_core",
    "show_receptive_field",
    "silhouette_loaders",
    "smallest_depth",
]

Pair = tuple[int, int]


def _pair(value: Any) -> tuple[Any, Any]:
    return (value, value) if not isinstance(value, (tuple, list)) else (value[0], value[-1])


def _show(values: tuple[Any, Any]) -> Any:
    """``v`` when both axes agree, else ``(h, w)``; whole floats become ints."""
    vals = tuple(int(v) if float(v).is_integer() else float(v) for v in values)
    return vals[0] if vals[0] == vals[1] else vals


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


@dataclass
class LayerRow:
    """One row of the per-layer table: values are ints, or (h, w) when the two axes differ."""

    name: str
    op: str
    kernel: Any
    stride: Any
    dilation: Any
    padding: Any
    rf: Any
    jump: Any
    start: Any
    size: Any

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RFReport:
    """The theoretical receptive field of a model's (spatial) output.

    ``size`` and ``stride`` (the jump) are ints, or ``(h, w)`` when the axes
    differ; ``start`` is the centre of output unit (0, 0)'s field in input
    pixel coordinates; ``layers`` lists the rows in execution order; ``output``
    names the node described (for a classifier: the last spatial feature map
    before global pooling, named in ``stopped_at``).
    """

    size: Any
    stride: Any
    start: Any
    input_size: Pair
    output_size: Pair
    output: str
    read: tuple[Pair, Pair] = ((0, 0), (0, 0))
    layers: list[LayerRow] = field(default_factory=list)
    stopped_at: str | None = None
    whole_image: bool = False

    def box(self, unit: tuple[int, int] | None = None, clip: bool = True) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), inclusive, of output ``unit``'s field (default: the central unit).

        With ``clip`` the box is cut to the input pixels the network reads at all: the
        image, less the last rows / columns that a stride's rounding leaves unread.
        """
        if unit is None:
            unit = (self.output_size[0] // 2, self.output_size[1] // 2)
        if self.whole_image:
            return (0, 0, self.input_size[0] - 1, self.input_size[1] - 1)
        size, stride, start = _pair(self.size), _pair(self.stride), _pair(self.start)
        lo, hi = [], []
        for a in range(2):
            half = (size[a] - 1) / 2
            low, high = start[a] + unit[a] * stride[a] - half, start[a] + unit[a] * stride[a] + half
            if clip:
                low, high = max(low, self.read[a][0]), min(high, self.read[a][1])
            lo.append(math.floor(low))
            hi.append(math.ceil(high))
        return (lo[0], lo[1], hi[0], hi[1])

    def table(self):
        """The per-layer rows as a pandas DataFrame."""
        import pandas as pd

        columns = ["name", "op", "kernel", "stride", "dilation", "padding", "rf", "jump", "start", "size"]
        frame = pd.DataFrame([r.as_dict() for r in self.layers], columns=columns)
        frame.columns = [tr(*_COLUMNS[c]) for c in columns]
        return frame

    def __str__(self) -> str:
        rows = [r.as_dict() for r in self.layers]
        keys = ["name", "op", "kernel", "stride", "dilation", "padding", "rf", "jump", "start", "size"]
        head = [tr(*_COLUMNS[k]) for k in keys]
        cells = [[str(r[k]) for k in keys] for r in rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(head)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
        lines.append(
            tr(
                f"=> trường tiếp nhận {self.size}, bước nhảy {self.stride} (đầu ra `{self.output}`)",
                f"=> receptive field {self.size}, jump {self.stride} (output `{self.output}`)",
            )
        )
        return "\n".join(lines)


_COLUMNS = {
    "name": ("tên", "name"),
    "op": ("phép", "op"),
    "kernel": ("nhân", "kernel"),
    "stride": ("bước", "stride"),
    "dilation": ("giãn", "dilation"),
    "padding": ("đệm", "padding"),
    "rf": ("RF", "RF"),
    "jump": ("bước nhảy", "jump"),
    "start": ("tâm đầu", "start"),
    "size": ("kích thước", "size"),
}

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


def receptive_field(model: nn.Module, input_size: Any, output: str | None = None) -> RFReport:
    """The exact theoretical receptive field of ``model``'s output for an input of ``input_size``.

    ``input_size`` is ``H`` (square), ``(H, W)``, ``(C, H, W)`` or ``(N, C, H, W)``.
    ``output`` optionally names a module (``"layer4"``) or fx node whose output is
    described instead of the model's. For a classifier the report describes the
    last spatial feature map before global pooling / flatten / linear.
    """
    if not isinstance(model, nn.Module):
        raise bad_argument("receptive_field", "model", "một nn.Module", "an nn.Module", model, TypeError)
    size = _check_size(input_size, "receptive_field")
    if output is not None and not isinstance(output, str):
        raise bad_argument(
            "receptive_field", "output", "tên một lớp (chuỗi)", "a layer name (string)", output, TypeError
        )
    if type(model).__module__.startswith("torch.nn.modules") and not isinstance(model, nn.Sequential):
        model = nn.Sequential(model)  # a single layer: trace it as a leaf
    try:
        graph = _Tracer().trace(model)
    except Exception as exc:
        raise ValueError(
            tr(
                f"receptive_field: torch.fx không theo vết được mô hình ({type(exc).__name__}: {exc}).",
                f"receptive_field: torch.fx could not trace the model ({type(exc).__name__}: {exc}).",
            )
        ) from exc
    modules = dict(model.named_modules())
    state: dict[str, Any] = {}
    names: dict[str, str] = {}
    rows: list[LayerRow] = []
    row_of: dict[str, int] = {}
    frontier: str | None = None
    stopped_at: str | None = None
    chosen: str | None = None
    placeholders = 0

    def arg(value: Any) -> Any:
        return fx.node.map_arg(value, lambda n: state[n.name])

    for node in graph.nodes:
        label = node.target if node.op == "call_module" else node.name
        names[node.name] = str(label)
        args = arg(node.args)
        kwargs = arg(node.kwargs)
        inputs = _tensors(args) + _tensors(kwargs)
        fields = [t for t in inputs if isinstance(t, _Field)]
        result: Any = None
        row: LayerRow | None = None
        if node.op == "placeholder":
            placeholders += 1
            if placeholders > 1:
                result = None  # extra inputs (e.g. optional arguments) carry no image
            else:
                result = _Field(tuple(_Axis(1, 1, 0.0, n, 0.0, n - 1.0) for n in size))  # type: ignore[arg-type]
        elif node.op == "get_attr":
            result = None
        elif node.op == "output":
            result = args[0]
        elif not inputs:
            result = None  # arithmetic on sizes, constants
        elif any(isinstance(t, _NonSpatial) for t in inputs) and not fields:
            result = _NONSPATIAL
        elif node.op == "call_module":
            result, row = _module_step(modules[node.target], node.target, fields, inputs)
        elif node.op == "call_function":
            result, row = _function_step(node.target, node.name, args, kwargs, fields, inputs)
        elif node.op == "call_method":
            result, row = _method_step(node.target, node.name, args, kwargs, fields, inputs)
        if stopped_at is None and _goes_global(result) and any(isinstance(f, _Field) and not f.whole for f in fields):
            stopped_at = str(label)
            frontier = next(
                n.name for n in node.all_input_nodes if isinstance(state[n.name], _Field) and not state[n.name].whole
            )
        state[node.name] = result
        if row is not None:
            row.name = str(label)
            row_of[node.name] = len(rows)
            rows.append(row)
        if output is not None and node.op not in ("placeholder", "output"):
            stack = node.meta.get("nn_module_stack") or {}
            inside = [str(v[0]) if isinstance(v, tuple) else str(k) for k, v in stack.items()]
            if label == output or node.name == output or output in inside:
                chosen = node.name  # the last node of that module wins
    if output is not None:
        if chosen is None:
            raise bad_argument(
                "receptive_field",
                "output",
                "tên một mô-đun hoặc nút fx của mô hình",
                "the name of a module or fx node of the model",
                output,
            )
        final, out_name, stop = state[chosen], chosen, None
    else:
        out_node = next(n for n in graph.nodes if n.op == "output")
        final = _pick_output(state[out_node.name])
        out_name, stop = out_node.name, None
        if not isinstance(final, _Field) and frontier is not None:
            final, out_name, stop = state[frontier], frontier, stopped_at
    if not isinstance(final, _Field):
        raise ValueError(
            tr("receptive_field: đầu ra không có trục không gian.", "receptive_field: the output has no spatial axes.")
        )
    keep = _ancestors(graph, out_name)
    table = [rows[i] for n, i in row_of.items() if n in keep]
    ax = final.axes
    return RFReport(
        size=_show(size) if final.whole else _show((ax[0].rf, ax[1].rf)),
        stride=_show((ax[0].jump, ax[1].jump)),
        start=_show((ax[0].start, ax[1].start)),
        input_size=size,
        output_size=(ax[0].size, ax[1].size),
        read=tuple((int(max(a.first, 0)), int(min(a.last, n - 1))) for a, n in zip(ax, size)),  # type: ignore[arg-type]
        output="output" if out_name == "output" else names.get(out_name, out_name),
        layers=table,
        stopped_at=stop,
        whole_image=final.whole,
    )


def _goes_global(result: Any) -> bool:
    return result is _NONSPATIAL or (isinstance(result, _Field) and result.whole)


def _pick_output(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("out", list(value.values())[-1])
    if isinstance(value, (list, tuple)):
        return value[-1]
    return value


def _ancestors(graph: fx.Graph, name: str) -> set[str]:
    node = next((n for n in graph.nodes if n.name == name), None)
    if node is None:
        return {n.name for n in graph.nodes}
    seen, todo = set(), [node]
    while todo:
        n = todo.pop()
        if n.name in seen:
            continue
        seen.add(n.name)
        todo.extend(n.all_input_nodes)
    return seen


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


# ----------------------------------------------------------------------------- chains (exercises, explorer)


def rf_of_chain(layers: Sequence[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """The recurrence on a chain of ``(kernel, stride, dilation)`` layers: ``[(rf, jump), ...]`` after each."""
    if not isinstance(layers, (list, tuple)):
        raise bad_argument(
            "rf_of_chain",
            "layers",
            "một danh sách (kernel, stride, dilation)",
            "a list of (kernel, stride, dilation)",
            layers,
            TypeError,
        )
    rf, jump, out = 1, 1, []
    for item in layers:
        if (
            not isinstance(item, (list, tuple))
            or len(item) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in item)
        ):
            raise bad_argument(
                "rf_of_chain",
                "layers",
                "các bộ ba số nguyên >= 1 (kernel, stride, dilation)",
                "triples of integers >= 1 (kernel, stride, dilation)",
                item,
            )
        k, s, d = item
        rf += (k - 1) * d * jump
        jump *= s
        out.append((rf, jump))
    return out


def smallest_depth(target_rf: int, kernel: int = 3, stride: int = 1, dilation: int = 1) -> int:
    """The fewest identical ``(kernel, stride, dilation)`` layers whose receptive field reaches ``target_rf``."""
    for arg_name, value, low in (
        ("target_rf", target_rf, 1),
        ("kernel", kernel, 1),
        ("stride", stride, 1),
        ("dilation", dilation, 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise bad_argument("smallest_depth", arg_name, f"một số nguyên >= {low}", f"an integer >= {low}", value)
    if target_rf == 1:
        return 0
    if kernel == 1:
        raise bad_argument(
            "smallest_depth",
            "kernel",
            "một số nguyên >= 2 (nhân 1x1 không làm RF lớn lên)",
            "an integer >= 2 (1x1 kernels never grow the RF)",
            kernel,
        )
    depth, rf, jump = 0, 1, 1
    while rf < target_rf:
        rf += (kernel - 1) * dilation * jump
        jump *= stride
        depth += 1
    return depth


def conv_chain(
    layers: int = 3,
    kernel: int = 3,
    stride: int = 1,
    dilation: int = 1,
    pooling: str = "none",
    channels: int = 8,
    in_channels: int = 3,
) -> nn.Sequential:
    """A plain chain of ``layers`` convolutions (+ ReLU), optionally a 2x2 pooling after every second one.

    Padding keeps the size when ``stride`` is 1 (``dilation * (kernel - 1) // 2``). Used by the explorer.
    """
    for arg_name, value in (
        ("layers", layers),
        ("kernel", kernel),
        ("stride", stride),
        ("dilation", dilation),
        ("channels", channels),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise bad_argument("conv_chain", arg_name, "một số nguyên >= 1", "an integer >= 1", value)
    if pooling not in ("none", "max", "avg"):
        raise bad_argument("conv_chain", "pooling", "'none', 'max' hoặc 'avg'", "'none', 'max' or 'avg'", pooling)
    modules: list[nn.Module] = []
    c = in_channels
    for i in range(layers):
        modules += [nn.Conv2d(c, channels, kernel, stride, dilation * (kernel - 1) // 2, dilation), nn.ReLU()]
        c = channels
        if pooling != "none" and i % 2 == 1:
            modules.append(nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2))
    return nn.Sequential(*modules)


# ----------------------------------------------------------------------------- effective receptive field


def _first_output(out: Any) -> torch.Tensor:
    if isinstance(out, dict):
        out = out["out"] if "out" in out else list(out.values())[-1]
    if isinstance(out, (list, tuple)):
        out = out[-1]
    return out


def effective_receptive_field(
    model: nn.Module,
    input_size: Any,
    samples: int = 8,
    unit: tuple[int, int] | None = None,
    inputs: torch.Tensor | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The ERF (Luo et al., arXiv 1605.04876): mean |d y_unit / d x| over ``samples`` random inputs.

    ``y_unit`` is the sum over channels of one output unit (default the central
    one). Returns an H x W tensor (CPU, float32) normalised to a maximum of 1.
    The model runs in eval mode; ``inputs`` (N x C x H x W) replaces the random
    normal inputs when given.
    """
    if not isinstance(model, nn.Module):
        raise bad_argument("effective_receptive_field", "model", "một nn.Module", "an nn.Module", model, TypeError)
    h, w = _check_size(input_size, "effective_receptive_field")
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise bad_argument("effective_receptive_field", "samples", "một số nguyên >= 1", "an integer >= 1", samples)
    device = torch.device(device) if device is not None else next(model.parameters(), torch.empty(0)).device
    in_channels = next((m.in_channels for m in model.modules() if isinstance(m, nn.Conv2d)), 3)
    if inputs is None:
        gen = torch.Generator().manual_seed(seed)
        inputs = torch.randn(samples, in_channels, h, w, generator=gen)
    elif not isinstance(inputs, torch.Tensor) or inputs.dim() != 4 or tuple(inputs.shape[-2:]) != (h, w):
        raise bad_argument(
            "effective_receptive_field",
            "inputs",
            f"một tensor N x C x {h} x {w}",
            f"an N x C x {h} x {w} tensor",
            inputs,
        )
    was_training = model.training
    model.eval()
    x = inputs.to(device).clone().requires_grad_(True)
    try:
        out = _first_output(model(x))
        oh, ow = out.shape[-2:]
        r, c = unit if unit is not None else (oh // 2, ow // 2)
        if not (0 <= r < oh and 0 <= c < ow):
            raise bad_argument(
                "effective_receptive_field",
                "unit",
                f"một vị trí trong lưới đầu ra {oh} x {ow}",
                f"a position inside the {oh} x {ow} output grid",
                unit,
            )
        out[:, :, r, c].sum().backward()
    finally:
        model.train(was_training)
    erf = x.grad.detach().abs().sum(1).mean(0).float().cpu()
    return erf / erf.max().clamp_min(1e-30)


def erf_coverage(erf: torch.Tensor, box: tuple[int, int, int, int], mass: float = 0.95) -> float:
    """Fraction of the theoretical RF ``box`` (top, left, bottom, right) occupied by the ERF.

    The ERF's area is the smallest number of pixels that together hold ``mass``
    of the total gradient magnitude; the result is that area over the box's area.
    """
    if not isinstance(erf, torch.Tensor) or erf.dim() != 2:
        raise bad_argument("erf_coverage", "erf", "một tensor H x W", "an H x W tensor", erf)
    if not 0 < mass <= 1:
        raise bad_argument("erf_coverage", "mass", "một số trong (0, 1]", "a number in (0, 1]", mass)
    top, left, bottom, right = box
    area = (bottom - top + 1) * (right - left + 1)
    values = erf.flatten().double().sort(descending=True).values
    cumulative = values.cumsum(0) / values.sum()
    needed = int(torch.searchsorted(cumulative, torch.tensor([mass], dtype=torch.float64)).item()) + 1
    return min(needed, values.numel()) / area


# ----------------------------------------------------------------------------- self-check


def selfcheck_core(device: torch.device) -> str:
    """RF of resnet18 (tracing) and the ERF of a small chain on ``device``: a one-line summary."""
    import time

    from torchvision.models import resnet18

    start = time.perf_counter()
    report = receptive_field(resnet18(weights=None), 224)
    net = conv_chain(layers=4, kernel=3, dilation=2).to(device)
    erf = effective_receptive_field(net, 64, samples=2, device=device)
    chain = receptive_field(net, 64)
    ok = report.size == 435 and chain.size == 17 and erf.shape == (64, 64) and bool(torch.isfinite(erf).all())
    seconds = time.perf_counter() - start
    return (
        f"receptive_field: {'ok' if ok else 'FAILED'} resnet18 RF {report.size} jump {report.stride}, "
        f"chain RF {chain.size}, ERF on {device} {tuple(erf.shape)} in {seconds:.2f} s"
    )


# ----------------------------------------------------------------------------- the experiment's models


class RFLadder(nn.Sequential):
    """Segmentation nets of equal depth whose receptive field grows with ``level`` (lesson 01's experiment).

    Two stride-2 3x3 convolutions (output stride 4, RF 7), then four layers: the
    first ``level`` are 3x3 convolutions with dilation 1, 2, 4, 8, the others
    1x1 convolutions; then a 1x1 classifier. RF = 7, 15, 31, 63, 127 for level
    0 ... 4, at the same depth, resolution and nearly the same cost.
    """

    def __init__(self, num_classes: int, level: int, width: int = 32, in_channels: int = 3) -> None:
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 4:
            raise bad_argument("RFLadder", "level", "một số nguyên từ 0 đến 4", "an integer from 0 to 4", level)
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise bad_argument("RFLadder", "num_classes", "một số nguyên >= 1", "an integer >= 1", num_classes)

        def block(c_in: int, c_out: int, k: int, s: int = 1, d: int = 1) -> list[nn.Module]:
            conv = nn.Conv2d(c_in, c_out, k, s, d * (k - 1) // 2, d, bias=False)
            return [conv, nn.BatchNorm2d(c_out, momentum=0.3), nn.ReLU(inplace=True)]

        layers = block(in_channels, width // 2, 3, 2) + block(width // 2, width, 3, 2)
        for i in range(4):
            layers += block(width, width, 3, d=2**i) if i < level else block(width, width, 1)
        layers.append(nn.Conv2d(width, num_classes, 1))
        super().__init__(*layers)


# ----------------------------------------------------------------------------- the interactive explorer


def _photo(size: int = 128) -> torch.Tensor:
    """scikit-image's ``astronaut`` photo, downsampled to ``size`` x ``size``, as a float H x W x 3 array in [0, 1]."""
    from skimage import data as skdata
    from skimage.transform import resize

    return torch.from_numpy(resize(skdata.astronaut(), (size, size), anti_aliasing=True)).float()


def show_receptive_field(
    layers: int = 4,
    kernel: int = 3,
    stride: int = 2,
    dilation: int = 1,
    pooling: str = "none",
    unit_y: float = 0.5,
    unit_x: float = 0.5,
    size: int = 128,
    print_table: bool = True,
):
    """Draw one output unit's theoretical RF box and its ERF over a photo, for a :func:`conv_chain`.

    ``unit_y`` / ``unit_x`` pick the output unit as a fraction (0 ... 1) of the
    output grid. Returns the figure; prints the per-layer table when asked.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    for arg_name, value in (("unit_y", unit_y), ("unit_x", unit_x)):
        if not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise bad_argument("show_receptive_field", arg_name, "một số trong [0, 1]", "a number in [0, 1]", value)
    torch.manual_seed(0)
    net = conv_chain(layers, kernel, stride, dilation, pooling)
    report = receptive_field(net, size)
    oh, ow = report.output_size
    unit = (round(unit_y * (oh - 1)), round(unit_x * (ow - 1)))
    erf = effective_receptive_field(net, size, samples=4, unit=unit)
    photo = _photo(size)
    top, left, bottom, right = report.box(unit)
    centre = (report.box(unit, clip=False)[0] + report.box(unit, clip=False)[2]) / 2
    centre_x = (report.box(unit, clip=False)[1] + report.box(unit, clip=False)[3]) / 2
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.6))
    axes[0].imshow(photo)
    axes[1].imshow(photo.mean(-1), cmap="gray")
    axes[1].imshow(erf.sqrt(), cmap="inferno", alpha=0.65)
    for ax in axes:
        ax.add_patch(
            Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False, color="cyan", lw=2)
        )
        ax.plot([centre_x], [centre], "c+", ms=10)
        ax.set_axis_off()
    axes[0].set_title(tr(f"RF lý thuyết: {report.size} px", f"theoretical RF: {report.size} px"), fontsize=9)
    axes[1].set_title(
        tr(
            f"RF hiệu dụng (ERF), chiếm {erf_coverage(erf, (top, left, bottom, right)):.0%} ô",
            f"effective RF (ERF), fills {erf_coverage(erf, (top, left, bottom, right)):.0%} of the box",
        ),
        fontsize=9,
    )
    fig.suptitle(
        tr(
            f"{layers} lớp, nhân {kernel}, bước {stride}, giãn {dilation}, gộp {pooling}; đơn vị đầu ra {unit} / {oh}x{ow}",
            f"{layers} layers, kernel {kernel}, stride {stride}, dilation {dilation}, pooling {pooling}; "
            f"output unit {unit} of {oh}x{ow}",
        ),
        fontsize=9,
    )
    fig.tight_layout()
    if print_table:
        print(report)
    return fig


def explorer(size: int = 128):
    """The interactive explorer (ipywidgets) of lesson 01; a static figure when widgets are disabled.

    Sliders: number of layers, kernel, stride, dilation, pooling, and the output unit (y, x).
    Returns the ``ipywidgets.interactive`` object, or the static figure.
    """
    from .viz import widgets_enabled

    if not widgets_enabled():
        return show_receptive_field(size=size)
    import ipywidgets as w
    import matplotlib.pyplot as plt

    def draw(layers: int, kernel: int, stride: int, dilation: int, pooling: str, unit_y: float, unit_x: float) -> None:
        try:
            show_receptive_field(layers, kernel, stride, dilation, pooling, unit_y, unit_x, size=size)
            plt.show()
        except ValueError as exc:  # e.g. the map became smaller than a kernel: say so, keep the UI alive
            print(exc)

    style = {"description_width": "initial"}
    ui = w.interactive(
        draw,
        layers=w.IntSlider(4, 1, 8, description=tr("số lớp", "layers"), continuous_update=False, style=style),
        kernel=w.IntSlider(
            3, 1, 7, step=2, description=tr("nhân (kernel)", "kernel"), continuous_update=False, style=style
        ),
        stride=w.IntSlider(2, 1, 3, description=tr("bước (stride)", "stride"), continuous_update=False, style=style),
        dilation=w.IntSlider(1, 1, 4, description=tr("hệ số giãn", "dilation"), continuous_update=False, style=style),
        pooling=w.Dropdown(
            options=["none", "max", "avg"], value="none", description=tr("gộp (pooling)", "pooling"), style=style
        ),
        unit_y=w.FloatSlider(
            0.5, min=0, max=1, step=0.05, description=tr("đơn vị: y", "unit y"), continuous_update=False, style=style
        ),
        unit_x=w.FloatSlider(
            0.5, min=0, max=1, step=0.05, description=tr("đơn vị: x", "unit x"), continuous_update=False, style=style
        ),
    )
    from IPython.display import display

    display(ui)
    return ui


def silhouette_loaders(
    size: int = 64, batch_size: int = 16, train_count: int | None = None, val_count: int | None = None
) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    """Loaders of the ``shapes`` masks drawn as black-and-white silhouettes (lesson 01's experiment).

    The input is 1 inside any shape and 0 elsewhere (3 channels, normalised like
    the images); the target is the shape class. Every pixel inside a shape looks
    the same, so only context -- a receptive field that covers the shape --
    tells a circle from a square or a triangle.
    """
    from torch.utils.data import DataLoader, TensorDataset

    from .data import MEAN, STD, TextureMosaics

    loaders = []
    for split, count in (("train", train_count), ("val", val_count)):
        data = TextureMosaics("shapes", split, size, count)
        masks = torch.from_numpy(data.masks.astype("int64"))
        images = ((masks > 0).float()[:, None].expand(-1, 3, -1, -1) - MEAN) / STD
        dataset = TensorDataset(images.contiguous(), masks)
        dataset.num_classes = data.num_classes  # type: ignore[attr-defined]
        dataset.palette, dataset.class_names = data.palette, data.class_names  # type: ignore[attr-defined]
        dataset.masks = data.masks  # type: ignore[attr-defined]
        dataset.images = ((masks > 0).numpy()[..., None].repeat(3, -1) * 255).astype("uint8")  # type: ignore[attr-defined]
        generator = torch.Generator().manual_seed(0)
        shuffle = split == "train"
        loaders.append(
            DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, drop_last=shuffle)
        )
    return loaders[0], loaders[1]
