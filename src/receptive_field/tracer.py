"""Exact theoretical receptive field of any traceable model, by ``torch.fx`` graph tracing (lesson 01).

Each node's ``(r, j, c)`` is propagated by :mod:`.rules`; branches that merge by addition or
concatenation (ResNet, DenseNet) take the union of their inputs' boxes. An operation the tracer
does not know is named in an error, never skipped (Araujo et al., Distill 2019).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch.nn as nn
from torch import fx

from ..i18n import bad_argument, tr
from .report import LayerRow, Pair, RFReport, _show
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

__all__ = ["receptive_field", "receptive_fields"]


@dataclass
class _Walk:
    """Everything one pass over the fx graph leaves: per-node states, table rows, the last node of each module."""

    graph: fx.Graph
    size: Pair
    state: dict[str, Any]
    names: dict[str, str]
    rows: list[LayerRow]
    row_of: dict[str, int]
    last_node: dict[str, str]  # module path (or node name) -> the last fx node inside it
    order: list[str]  # module paths, in the order their first node runs
    frontier: str | None
    stopped_at: str | None


def _walk(model: nn.Module, size: Pair) -> _Walk:
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
    last_node: dict[str, str] = {}
    order: list[str] = []
    frontier: str | None = None
    stopped_at: str | None = None
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
        if node.op not in ("placeholder", "output"):
            stack = node.meta.get("nn_module_stack") or {}
            inside = [str(v[0]) if isinstance(v, tuple) else str(k) for k, v in stack.items()]
            if node.op == "call_module":
                inside.append(str(label))
            for key in dict.fromkeys(inside):
                if key not in last_node:
                    order.append(key)
            for key in dict.fromkeys([str(label), node.name, *inside]):
                last_node[key] = node.name  # the last node of that module wins
    return _Walk(graph, size, state, names, rows, row_of, last_node, order, frontier, stopped_at)


def _report(walk: _Walk, out_name: str, final: Any, stop: str | None) -> RFReport:
    if not isinstance(final, _Field):
        raise ValueError(
            tr("receptive_field: đầu ra không có trục không gian.", "receptive_field: the output has no spatial axes.")
        )
    keep = _ancestors(walk.graph, out_name)
    table = [copy.copy(walk.rows[i]) for n, i in walk.row_of.items() if n in keep]
    ax, size = final.axes, walk.size
    return RFReport(
        size=_show(size) if final.whole else _show((ax[0].rf, ax[1].rf)),
        stride=_show((ax[0].jump, ax[1].jump)),
        start=_show((ax[0].start, ax[1].start)),
        input_size=size,
        output_size=(ax[0].size, ax[1].size),
        read=tuple((int(max(a.first, 0)), int(min(a.last, n - 1))) for a, n in zip(ax, size)),  # type: ignore[arg-type]
        output="output" if out_name == "output" else walk.names.get(out_name, out_name),
        layers=table,
        stopped_at=stop,
        whole_image=final.whole,
    )


def _spatial_layers(walk: _Walk, depth: int) -> list[str]:
    """Module paths with at most ``depth`` parts whose output is a local spatial map, in run order."""
    layers = []
    for key in walk.order:
        final = walk.state.get(walk.last_node[key])
        if key.count(".") < depth and isinstance(final, _Field) and not final.whole:
            layers.append(key)
    return layers


def _unknown_output(walk: _Walk, output: str) -> ValueError:
    valid = _spatial_layers(walk, 2)
    shown = ", ".join(valid[:40]) + (", ..." if len(valid) > 40 else "")
    return bad_argument(
        "receptive_field",
        "output",
        f"tên một mô-đun hoặc nút fx của mô hình, ví dụ: {shown}",
        f"the name of a module or fx node of the model, e.g. one of: {shown}",
        output,
    )


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
    walk = _walk(model, size)
    if output is not None:
        if output not in walk.last_node:
            raise _unknown_output(walk, output)
        chosen = walk.last_node[output]
        return _report(walk, chosen, walk.state[chosen], None)
    out_node = next(n for n in walk.graph.nodes if n.op == "output")
    final = _pick_output(walk.state[out_node.name])
    out_name, stop = out_node.name, None
    if not isinstance(final, _Field) and walk.frontier is not None:
        final, out_name, stop = walk.state[walk.frontier], walk.frontier, walk.stopped_at
    return _report(walk, out_name, final, stop)


def receptive_fields(model: nn.Module, input_size: Any, outputs: Sequence[str] | None = None) -> dict[str, RFReport]:
    """One trace, many reports: ``{layer: receptive_field(model, input_size, output=layer)}``.

    Without ``outputs``: every module of depth <= 2 (``"layer3"``, ``"layer3.1"``, ``"features.4"``)
    whose output is still a local spatial map, in the order the forward pass runs them
    (the layer list of the explorer).
    """
    if not isinstance(model, nn.Module):
        raise bad_argument("receptive_fields", "model", "một nn.Module", "an nn.Module", model, TypeError)
    size = _check_size(input_size, "receptive_fields")
    walk = _walk(model, size)
    if outputs is None:
        outputs = _spatial_layers(walk, 2)
    elif isinstance(outputs, str) or not all(isinstance(o, str) for o in outputs):
        raise bad_argument(
            "receptive_fields", "outputs", "một danh sách tên lớp", "a list of layer names", outputs, TypeError
        )
    reports = {}
    for name in outputs:
        if name not in walk.last_node:
            raise _unknown_output(walk, name)
        chosen = walk.last_node[name]
        reports[name] = _report(walk, chosen, walk.state[chosen], None)
    return reports


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
