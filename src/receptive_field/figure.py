"""A static figure of one unit's RF box and ERF over a photo, and the slider demo on a conv chain (lesson 01).

Theoretical RF: Araujo et al., Distill 2019; ERF: Luo et al., arXiv 1701.04128.
"""

from __future__ import annotations

import torch

from .._rng import seeded
from ..i18n import bad_argument, tr
from .chains import conv_chain
from .erf import effective_receptive_field, erf_coverage
from .tracer import receptive_field

__all__ = ["chain_explorer", "show_receptive_field"]


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
    with seeded(0):  # the same chain every time, without reseeding the notebook's RNG
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


def chain_explorer(size: int = 128):
    """The slider demo on a conv chain (ipywidgets); a static figure when widgets are disabled.

    Sliders: number of layers, kernel, stride, dilation, pooling, and the output unit (y, x).
    Returns the ``ipywidgets.interactive`` object, or the static figure.
    """
    from ..viz import widgets_enabled

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
