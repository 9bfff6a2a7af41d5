"""The receptive-field explorer of lesson 01: real networks, click a pixel, see its RF box and its ERF.

``rf.explorer(model="resnet50", image="astronaut")`` in JupyterLab: pick a network (torchvision
``resnet18`` / ``resnet50`` / ``vgg16`` / ``densenet121`` with random weights, or the course's models),
a layer from the traced layer list, and click the photo: the output unit whose RF centre is nearest
is chosen; its theoretical RF box (Araujo et al., Distill 2019; solid: inside the image, dashed:
the full extent), the jump grid, the per-layer table up to that layer and, computed lazily, its ERF
(Luo et al., arXiv 1701.04128). The click needs a widget that reports pointer events: an
``anywidget`` panel (``ipywidgets.Image`` does not report clicks). Traces are cached per
(model, input size).

Headless (``SRC_NO_WIDGETS=1``, as set by the build, nbval and the grader) it draws one static
figure and creates no widget at all, so no comm message is sent to a client that has no frontend.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ..i18n import bad_argument, get_language, set_language, tr
from .images import erf_png, jpeg_data_url
from .report import RFReport, _pair
from .zoo import (
    MODELS,
    PHOTOS,
    default_layer,
    has_trained,
    layer_erf,
    layer_report,
    load_photo,
    model_layers,
    resolve_model,
    to_input,
    trained_model,
    unit_at,
)

__all__ = ["ExplorerState", "explorer"]

_ASSETS = Path(__file__).with_name("assets")


class ExplorerState:
    """What the explorer shows, without any widget: model, layer, photo, unit, box, ERF (lazily).

    Every public method validates its input and raises a bilingual ValueError / TypeError.
    """

    def __init__(self, model: str | nn.Module = "resnet50", image: Any = "astronaut", layer: str | None = None,
                 size: Any = 224) -> None:  # fmt: skip
        self.size_arg = size
        self.photo = load_photo(image, size)
        self.set_model(model, layer)
        self.erf_seconds: float | None = None

    # ----------------------------------------------------------------------------- choices
    @property
    def input_size(self) -> tuple[int, int]:
        return int(self.photo.shape[0]), int(self.photo.shape[1])

    def set_model(self, model: str | nn.Module, layer: str | None = None) -> None:
        self.model_name, self.model = resolve_model(model)
        self.layers = model_layers(self.model, self.input_size)
        if not self.layers:
            raise bad_argument("explorer", "model", "một mạng tích chập", "a convolutional network", model)
        self.set_layer(layer if layer is not None else default_layer(self.model_name, self.layers))

    def set_layer(self, layer: str) -> None:
        self.report: RFReport = layer_report(self.model, self.input_size, layer)
        self.layer = layer
        oh, ow = self.report.output_size
        self.unit = (oh // 2, ow // 2)
        self._erf: tuple[tuple[int, int], torch.Tensor] | None = None
        self._erf_trained: tuple[tuple[int, int], torch.Tensor] | None = None

    def set_image(self, image: Any) -> None:
        self.photo = load_photo(image, self.size_arg)
        self.set_model(self.model, self.layer if self.layer in model_layers(self.model, self.input_size) else None)

    def click(self, y: float, x: float) -> tuple[int, int]:
        """Pick the output unit nearest to input pixel (y, x); returns it."""
        self.unit = unit_at(self.report, (y, x))
        return self.unit

    def set_unit(self, unit: tuple[int, int]) -> None:
        oh, ow = self.report.output_size
        if not (isinstance(unit, (tuple, list)) and len(unit) == 2 and 0 <= unit[0] < oh and 0 <= unit[1] < ow):
            raise bad_argument(
                "explorer", "unit", f"(y, x) trong lưới {oh} x {ow}", f"(y, x) in the {oh} x {ow} grid", unit
            )
        self.unit = (int(unit[0]), int(unit[1]))

    # ----------------------------------------------------------------------------- what is shown
    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.report.box(self.unit)

    @property
    def box_full(self) -> tuple[int, int, int, int]:
        return self.report.box(self.unit, clip=False)

    def erf(self) -> torch.Tensor:
        """The ERF (H x W, max 1) of the current unit on the photo, computed on first use."""
        if self._erf is None or self._erf[0] != self.unit:
            start = time.perf_counter()
            value = layer_erf(self.model, to_input(self.photo), self.layer, [self.unit])[0]
            self.erf_seconds = time.perf_counter() - start
            self._erf = (self.unit, value)
        return self._erf[1]

    @property
    def trained(self) -> bool:
        """True when the model is a course model with a shipped trained checkpoint (random vs trained ERF)."""
        return has_trained(self.model_name) if isinstance(self.model_name, str) else False

    def erf_trained(self) -> torch.Tensor | None:
        """The ERF of the same unit in the *trained* network (lesson 07's checkpoint); None without one."""
        if not self.trained:
            return None
        if self._erf_trained is None or self._erf_trained[0] != self.unit:
            value = layer_erf(trained_model(self.model_name), to_input(self.photo), self.layer, [self.unit])[0]
            self._erf_trained = (self.unit, value)
        return self._erf_trained[1]

    def table(self):
        return self.report.table()

    @property
    def state(self) -> dict[str, Any]:
        """The numbers the browser test checks (also in the widget's DOM as data attributes)."""
        return {
            "model": self.model_name,
            "layer": self.layer,
            "size": list(self.input_size),
            "unit": list(self.unit),
            "box": list(self.box),
            "box_full": list(self.box_full),
            "rf": self.report.size,
            "jump": self.report.stride,
            "trained": self.trained,
        }

    def grid(self) -> dict[str, Any]:
        r = self.report
        return {"start": list(_pair(r.start)), "jump": list(_pair(r.stride)), "out": list(r.output_size)}

    def caption(self) -> str:
        r = self.report
        t, left, b, right = self.box
        return tr(
            f"{self.model_name} · `{self.layer}` · đơn vị {self.unit} trong lưới {r.output_size[0]}x{r.output_size[1]} · "
            f"RF lý thuyết {r.size} px (trong ảnh {b - t + 1}x{right - left + 1}) · bước nhảy {r.stride}",
            f"{self.model_name} · `{self.layer}` · unit {self.unit} of the {r.output_size[0]}x{r.output_size[1]} grid · "
            f"theoretical RF {r.size} px ({b - t + 1}x{right - left + 1} inside the image) · jump {r.stride}",
        )

    def figure(self):
        """The static figure: photo with the box (solid: clipped, dashed: full extent), jump grid, ERF."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle

        h, w = self.input_size
        trained = self.erf_trained()
        panels = 2 if trained is None else 3
        fig, axes = plt.subplots(1, panels, figsize=(4 * panels, 4.2 * h / w + 0.4))
        erf = self.erf()
        axes[0].imshow(self.photo)
        for ax, value in zip(axes[1:], [erf] if trained is None else [erf, trained]):
            ax.imshow(self.photo.mean(-1), cmap="gray", alpha=0.6)
            ax.imshow(value.sqrt(), cmap="inferno", alpha=0.7)
        g = self.grid()
        ys = g["start"][0] + g["jump"][0] * np.arange(g["out"][0])
        xs = g["start"][1] + g["jump"][1] * np.arange(g["out"][1])
        yy, xx = np.meshgrid(ys[(ys >= 0) & (ys < h)], xs[(xs >= 0) & (xs < w)], indexing="ij")
        axes[0].plot(xx.ravel(), yy.ravel(), ".", color="white", ms=1.5, alpha=0.6)
        for ax in axes:
            t, left, b, right = self.box
            ax.add_patch(Rectangle((left - 0.5, t - 0.5), right - left + 1, b - t + 1, fill=False, color="cyan", lw=2))
            ft, fl, fb, fr = self.box_full
            if (ft, fl, fb, fr) != (t, left, b, right):
                ax.add_patch(
                    Rectangle(
                        (fl - 0.5, ft - 0.5), fr - fl + 1, fb - ft + 1, fill=False, color="yellow", lw=1.5, ls="--"
                    )
                )
            ax.set_xlim(-0.5, w - 0.5)
            ax.set_ylim(h - 0.5, -0.5)
            ax.set_axis_off()
        axes[0].set_title(tr("RF lý thuyết và lưới bước nhảy", "theoretical RF and the jump grid"), fontsize=9)
        if trained is None:
            axes[1].set_title(tr("RF hiệu dụng (ERF) trên ảnh này", "effective RF (ERF) on this photo"), fontsize=9)
        else:
            axes[1].set_title(tr("ERF, trọng số ngẫu nhiên", "ERF, random weights"), fontsize=9)
            axes[2].set_title(tr("ERF, đã huấn luyện (bài 07)", "ERF, trained (lesson 07)"), fontsize=9)
        fig.suptitle(self.caption().replace("`", ""), fontsize=8)
        fig.tight_layout()
        return fig


class _Explorer:
    """The JupyterLab UI around an :class:`ExplorerState` (ipywidgets controls + an anywidget photo panel)."""

    def __init__(self, state: ExplorerState) -> None:
        import anywidget
        import ipywidgets as w
        import traitlets as t

        class RFPanel(anywidget.AnyWidget):
            _esm = (_ASSETS / "widget.js").read_text(encoding="utf-8")
            _css = (_ASSETS / "widget.css").read_text(encoding="utf-8")
            photo = t.Unicode("").tag(sync=True)
            size = t.List([0, 0]).tag(sync=True)
            layer = t.Unicode("").tag(sync=True)
            unit = t.List([0, 0]).tag(sync=True)
            box = t.List([0, 0, 0, 0]).tag(sync=True)
            box_full = t.List([0, 0, 0, 0]).tag(sync=True)
            grid = t.Dict({}).tag(sync=True)
            erf = t.Unicode("").tag(sync=True)
            erf_unit = t.List([0, 0]).tag(sync=True)
            erf_trained = t.Unicode("").tag(sync=True)
            labels = t.List(["", ""]).tag(sync=True)
            busy = t.Bool(False).tag(sync=True)
            projector = t.Bool(False).tag(sync=True)
            click = t.List([]).tag(sync=True)

        self.s = state
        self._quiet = False
        style = {"description_width": "initial"}
        self.panel = RFPanel()
        self.model_pick = w.Dropdown(options=list(MODELS), style=style)
        if state.model_name not in MODELS:
            self.model_pick.options = [state.model_name, *MODELS]
        self.model_pick.value = state.model_name
        self.layer_pick = w.Dropdown(options=state.layers, value=state.layer, style=style)
        self.image_pick = w.Dropdown(options=list(PHOTOS), style=style)
        self.upload = w.FileUpload(accept="image/*", multiple=False)
        self.unit_y = w.IntSlider(0, 0, 1, continuous_update=False, style=style)
        self.unit_x = w.IntSlider(0, 0, 1, continuous_update=False, style=style)
        self.projector = w.ToggleButton(False)
        self.lang = w.ToggleButtons(options=["vi", "en"], value=get_language())
        self.caption = w.HTML()
        self.table = w.HTML()
        self.status = w.HTML()
        controls = w.HBox([self.model_pick, self.layer_pick, self.image_pick, self.upload])
        toggles = w.HBox([self.unit_y, self.unit_x, self.projector, self.lang])
        self.box = w.VBox([controls, toggles, self.panel, self.caption, self.status, self.table])
        self.model_pick.observe(self._on_model, "value")
        self.layer_pick.observe(self._on_layer, "value")
        self.image_pick.observe(self._on_image, "value")
        self.upload.observe(self._on_upload, "value")
        self.unit_y.observe(self._on_slider, "value")
        self.unit_x.observe(self._on_slider, "value")
        self.panel.observe(self._on_click, "click")
        self.projector.observe(self._on_projector, "value")
        self.lang.observe(self._on_lang, "value")
        self._labels()
        self._refresh(full=True)

    @property
    def state(self) -> dict[str, Any]:
        return self.s.state

    # ----------------------------------------------------------------------------- events
    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
            self.status.value = ""
        except (ValueError, TypeError) as exc:  # keep the UI alive, say what was wrong
            self.status.value = f"<span style='color:#c00'>{exc}</span>"

    def _on_model(self, change: dict) -> None:
        self._busy(lambda: (self.s.set_model(change["new"]), self._refresh(full=True)))

    def _on_layer(self, change: dict) -> None:
        if not self._quiet:
            self._busy(lambda: (self.s.set_layer(change["new"]), self._refresh(full=True)))

    def _on_image(self, change: dict) -> None:
        self._busy(lambda: (self.s.set_image(change["new"]), self._refresh(full=True)))

    def _on_upload(self, change: dict) -> None:
        files = change["new"]
        if files:
            item = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
            self._busy(lambda: (self.s.set_image(bytes(item["content"])), self._refresh(full=True)))

    def _on_click(self, change: dict) -> None:
        if len(change["new"]) >= 2:
            self._busy(lambda: (self.s.click(change["new"][0], change["new"][1]), self._refresh()))

    def _on_slider(self, _change: dict) -> None:
        if not self._quiet:
            self._busy(lambda: (self.s.set_unit((self.unit_y.value, self.unit_x.value)), self._refresh()))

    def _on_projector(self, change: dict) -> None:
        self.panel.projector = change["new"]
        self.table.layout.display = "none" if change["new"] else None
        self.caption.value = self._caption_html()

    def _on_lang(self, change: dict) -> None:
        set_language(change["new"])
        self._labels()
        self._refresh(full=True)

    def _busy(self, work) -> None:
        self.panel.busy = True
        try:
            self._guard(work)
        finally:
            self.panel.busy = False

    # ----------------------------------------------------------------------------- drawing
    def _labels(self) -> None:
        self.model_pick.description = tr("mạng", "network")
        self.layer_pick.description = tr("lớp", "layer")
        self.image_pick.description = tr("ảnh", "photo")
        self.upload.description = tr("tải ảnh lên", "upload")
        self.unit_y.description = tr("đơn vị: y", "unit y")
        self.unit_x.description = tr("đơn vị: x", "unit x")
        self.projector.description = tr("chế độ trình chiếu", "projector mode")

    def _caption_html(self) -> str:
        size = "1.5em" if self.projector.value else "1em"
        return f"<div style='font-size:{size}'>{self.s.caption().replace('`', '')}</div>"

    def _refresh(self, full: bool = False) -> None:
        s, p = self.s, self.panel
        oh, ow = s.report.output_size
        self._quiet = True
        try:
            if full:
                self.layer_pick.options = s.layers
                self.layer_pick.value = s.layer
                self.unit_y.max, self.unit_x.max = max(oh - 1, 1), max(ow - 1, 1)
            self.unit_y.value, self.unit_x.value = s.unit
        finally:
            self._quiet = False
        with p.hold_sync():
            if full:
                p.photo = jpeg_data_url(s.photo)
                p.size = list(s.input_size)
                p.grid = s.grid()
            p.layer = s.layer
            p.unit, p.box, p.box_full = list(s.unit), list(s.box), list(s.box_full)
        self.caption.value = self._caption_html()
        rows = s.table().to_html(index=False, border=0)
        self.table.value = f"<div style='max-height:16em;overflow:auto;font-size:0.8em'>{rows}</div>"
        p.erf = erf_png(s.erf(), long_side=max(s.input_size))  # lazily: after the box has moved
        trained = s.erf_trained()  # random vs trained, side by side, when lesson 07's checkpoint ships
        p.erf_trained = "" if trained is None else erf_png(trained, long_side=max(s.input_size))
        p.labels = [tr("ngẫu nhiên", "random"), tr("đã huấn luyện", "trained")] if trained is not None else ["", ""]
        p.erf_unit = list(s.unit)


def explorer(model: str | nn.Module = "resnet50", image: Any = "astronaut", layer: str | None = None, size: Any = 224):
    """The interactive RF explorer of lesson 01; a static figure when widgets are disabled.

    ``model``: one of ``MODELS`` or any traceable ``nn.Module``; ``image``: a scikit-image photo name,
    image-file bytes or an H x W x 3 array; ``layer``: a traced layer name (default: a deep stage);
    ``size``: the input's long side in pixels, or ``(H, W)``. Returns the UI (its ``.state`` holds the
    numbers shown) or, headless, the matplotlib figure.
    """
    from ..viz import widgets_enabled

    state = ExplorerState(model, image, layer, size)
    try:
        import anywidget
    except ImportError:
        anywidget = None
    if not widgets_enabled() or anywidget is None:
        if widgets_enabled():
            print(
                tr(
                    "Cần gói `anywidget` để bấm vào ảnh; đây là hình tĩnh.",
                    "Clicking needs `anywidget`; here is a static figure.",
                )
            )
        fig = state.figure()
        fig.explorer_state = state.state  # type: ignore[attr-defined]
        return fig
    ui = _Explorer(state)
    from IPython.display import display

    display(ui.box)
    return ui
