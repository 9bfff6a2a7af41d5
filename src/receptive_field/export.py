"""A kernel-free receptive-field explorer: ONE self-contained HTML page (lesson 01).

``python -m src.receptive_field.export --model resnet50 --layer layer3 --image astronaut --out rf.html``
(or :func:`export_page`) writes a page with the photo embedded (base64), inline CSS and JS and no
external URL: it works from ``file://``, on a website, on a projector laptop without Python.
Clicking the photo picks the output unit whose RF centre is nearest, draws its theoretical RF box
(Araujo et al., Distill 2019; clipped, and dashed when the full extent leaves the image), the jump
grid, and the ERF (Luo et al., arXiv 1701.04128) precomputed for the nearest unit of a grid.

Contract for tests and graders: the photo is ``[data-role=rf-photo]`` with ``data-size="H,W"``;
after a click it carries ``data-unit="y,x"``; ``[data-role=rf-box]`` has
``data-box="top,left,bottom,right"`` equal to ``receptive_field(model, (H, W), output=layer).box((y, x))``;
the layer picker is ``select[data-role=rf-layer]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..i18n import bad_argument, get_language, tr
from .images import erf_png, jpeg_data_url
from .report import RFReport, _pair
from .zoo import MAIN_LAYERS, MODELS, PHOTOS, layer_erf, layer_report, load_photo, resolve_model, to_input, trace

__all__ = ["export_page", "main"]

_ASSETS = Path(__file__).with_name("assets")


def _grid_units(report: RFReport, grid: int) -> list[tuple[int, int]]:
    oh, ow = report.output_size
    ys = sorted({round(v) for v in np.linspace(0, oh - 1, min(grid, oh))})
    xs = sorted({round(v) for v in np.linspace(0, ow - 1, min(grid, ow))})
    return [(y, x) for y in ys for x in xs]


def _layer_data(report: RFReport) -> dict[str, Any]:
    return {
        "rf": list(_pair(report.size)) if not report.whole_image else [1e9, 1e9],
        "jump": list(_pair(report.stride)),
        "start": list(_pair(report.start)),
        "out": list(report.output_size),
        "read": [list(r) for r in report.read],
        "whole": report.whole_image,
        "rows": [
            [r.name, r.op, str(r.kernel), str(r.stride), str(r.dilation), str(r.rf), str(r.jump)] for r in report.layers
        ],
    }


def page_data(
    model: Any = "resnet50", layer: str | None = None, image: Any = "astronaut", size: Any = 224,
    layers: list[str] | None = None, grid: int = 4,
) -> dict[str, Any]:  # fmt: skip
    """Everything the page shows, as JSON-ready data (the photo, per-layer RF numbers, ERF grids)."""
    if not isinstance(grid, int) or isinstance(grid, bool) or not 1 <= grid <= 16:
        raise bad_argument("export_page", "grid", "một số nguyên từ 1 đến 16", "an integer from 1 to 16", grid)
    name, module = resolve_model(model)
    photo = load_photo(image, size)
    h, w = photo.shape[:2]
    reports = trace(module, (h, w))
    if layers is None:
        layers = [m for m in MAIN_LAYERS.get(name, ()) if m in reports] or list(reports)[-4:]
    if layer is None:
        layer = layers[-2] if len(layers) > 1 else layers[0]
    if layer not in layers:
        layers = [*layers, layer]
    for item in layers:
        layer_report(module, (h, w), item)  # raises, listing the valid layers, on a wrong name
    x = to_input(photo)
    data: dict[str, Any] = {
        "model": name, "layer": layer, "size": [h, w], "lang": get_language(), "photo": jpeg_data_url(photo), "layers": {}
    }  # fmt: skip
    for item in layers:
        report = reports[item]
        units = _grid_units(report, grid)
        erfs = layer_erf(module, x, item, units)
        entry = _layer_data(report)
        entry["erf"] = {f"{u[0]},{u[1]}": erf_png(e) for u, e in zip(units, erfs)}
        data["layers"][item] = entry
    return data


def render(data: dict[str, Any]) -> str:
    """The page's HTML for :func:`page_data`'s output: inline CSS and JS, no external URL."""
    css = (_ASSETS / "page.css").read_text(encoding="utf-8")
    js = (_ASSETS / "page.js").read_text(encoding="utf-8")
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    h, w = data["size"]
    options = "".join(
        f'<option value="{n}"{" selected" if n == data["layer"] else ""}>{n}</option>' for n in data["layers"]
    )
    return f"""<!DOCTYPE html>
<html lang="{data.get("lang", "vi")}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RF explorer: {data["model"]}</title>
<style>{css}</style></head>
<body>
<header><h1><span data-vi="Trường tiếp nhận" data-en="Receptive field"></span> · {data["model"]}</h1>
<div class="tools"><label><span data-vi="Lớp" data-en="Layer"></span>
<select data-role="rf-layer">{options}</select></label>
<button type="button" data-role="rf-lang">English</button>
<button type="button" data-role="rf-projector" data-vi="Chế độ trình chiếu" data-en="Projector mode"></button></div></header>
<main>
<figure class="panel"><div class="stage">
<img data-role="rf-photo" data-size="{h},{w}" src="{data["photo"]}" alt="photo" draggable="false">
<svg data-role="rf-grid" viewBox="0 0 {w} {h}" preserveAspectRatio="none"></svg>
<div data-role="rf-box-full" class="box full"></div><div data-role="rf-box" class="box"></div></div>
<figcaption data-role="rf-caption"></figcaption></figure>
<figure class="panel"><div class="stage dim"><img class="under" src="{data["photo"]}" alt="">
<img data-role="rf-erf" class="heat" alt="ERF"></div>
<figcaption data-role="rf-erf-caption"></figcaption></figure>
</main>
<p class="hint" data-vi="Bấm vào ảnh để chọn một đơn vị đầu ra. Khung liền: RF lý thuyết trong ảnh; khung nét đứt: toàn bộ RF; chấm: lưới bước nhảy; bên phải: ERF (tính sẵn cho đơn vị gần nhất của một lưới)."
data-en="Click the photo to pick an output unit. Solid box: theoretical RF inside the image; dashed: its full extent; dots: the jump grid; right: the ERF (precomputed for the nearest unit of a grid)."></p>
<section class="table"><table data-role="rf-table"></table></section>
<script type="application/json" id="rf-data">{payload}</script>
<script>{js}</script>
</body></html>
"""


def export_page(
    model: Any = "resnet50", layer: str | None = None, image: Any = "astronaut", out: Any = "rf.html",
    size: Any = 224, layers: list[str] | None = None, grid: int = 4,
) -> Path:  # fmt: skip
    """Write the self-contained explorer page for ``model`` / ``layer`` / ``image`` to ``out``; returns its path.

    ``layers`` are the layers offered in the picker (default: the model's main stages, plus ``layer``);
    ERFs are precomputed for a ``grid`` x ``grid`` set of units of each layer.
    """
    if not isinstance(out, (str, Path)):
        raise bad_argument("export_page", "out", "một đường dẫn tệp", "a file path", out, TypeError)
    path = Path(out)
    path.write_text(render(page_data(model, layer, image, size, layers, grid)), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m src.receptive_field.export",
        description=tr("Xuất trang HTML khám phá trường tiếp nhận.", "Export the receptive-field explorer page."),
    )
    parser.add_argument("--model", default="resnet50", choices=MODELS)
    parser.add_argument("--layer", default=None)
    parser.add_argument("--layers", default=None, help="comma-separated layers for the picker")
    parser.add_argument("--image", default="astronaut", help=f"one of {', '.join(PHOTOS)} or a PNG/JPEG file")
    parser.add_argument("--size", type=int, default=224, help="long side of the input in pixels")
    parser.add_argument("--grid", type=int, default=4)
    parser.add_argument("--out", default="rf.html")
    args = parser.parse_args(argv)
    image: Any = args.image
    if image not in PHOTOS and Path(image).is_file():
        image = Path(image).read_bytes()
    layers = args.layers.split(",") if args.layers else None
    try:
        path = export_page(args.model, args.layer, image, args.out, args.size, layers, args.grid)
    except (ValueError, TypeError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
