"""The receptive-field report: per-layer rows and the box of one output unit (lesson 01).

Araujo et al., "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..i18n import format_value, tr

__all__ = ["LayerRow", "RFReport"]

Pair = tuple[int, int]


def _pair(value: Any) -> tuple[Any, Any]:
    return (value, value) if not isinstance(value, (tuple, list)) else (value[0], value[-1])


def _show(values: tuple[Any, Any]) -> Any:
    """``v`` when both axes agree, else ``(h, w)``; whole floats become ints."""
    vals = tuple(int(v) if float(v).is_integer() else float(v) for v in values)
    return vals[0] if vals[0] == vals[1] else vals


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
        cells = [[format_value(r[k]) for k in keys] for r in rows]  # 0,5 in Vietnamese
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
