"""Exact theoretical receptive field of any traceable model, by ``torch.fx`` graph tracing (lesson 01).

Each node's ``(r, j, c)`` is propagated by :mod:`.rules`; branches that merge by addition or
concatenation (ResNet, DenseNet) take the union of their inputs' boxes. An operation the tracer
does not know is named in an error, never skipped (Araujo et al., Distill 2019).
"""

from __future__ import annotations

from typing import Any

import torch.nn as nn
from torch import fx

from ..i18n import bad_argument, tr
from .report import LayerRow, RFReport, _show
from .rules import (
    _NONSPATIAL,
    _Axis,
    _check_size,
    _Field,
    _function_step,
    _method_step,
    _module_step,
    _NonSpatial,
    _tensors,
    _Tracer,
)

__all__ = ["receptive_field"]


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
