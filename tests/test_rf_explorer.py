"""Tests of lesson 01's RF explorer (issue 15): trace cache, click -> unit, bad inputs, the exported page's data.

The boxes are checked against :func:`receptive_field` on a freshly built torchvision model, so the
explorer's cached, named models cannot agree with themselves by construction.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torchvision.models as tvm

import src
import src.receptive_field as rf
from src.receptive_field import export as rf_export
from src.receptive_field.zoo import layer_erf, to_input


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ----------------------------------------------------------------------------- trace cache


def test_trace_is_cached_per_model_and_input_size() -> None:
    rf.clear_trace_cache()
    first = rf.trace("resnet18", 64)
    assert rf.trace_cache_info() == {"hits": 0, "misses": 1, "entries": 1}
    again = rf.trace("resnet18", (64, 64))
    assert again is first and rf.trace_cache_info()["hits"] == 1
    rf.trace("resnet18", (64, 96))  # another input size: traced again
    assert rf.trace_cache_info()["misses"] == 2
    state = rf.ExplorerState("resnet18", "astronaut", size=64)  # the explorer reuses the cached trace
    assert rf.trace_cache_info()["misses"] == 2 and state.layer == "layer3"
    other = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    rf.trace(other, 64)
    assert rf.trace_cache_info()["misses"] == 3  # a module is its own key, not its class name


# ----------------------------------------------------------------------------- click -> unit


def _nearest(report: rf.RFReport, p: float, axis: int) -> int:
    start = report.start if isinstance(report.start, (int, float)) else report.start[axis]
    jump = report.stride if isinstance(report.stride, int) else report.stride[axis]
    centres = start + jump * np.arange(report.output_size[axis])
    return int(np.flatnonzero(np.abs(centres - p) == np.abs(centres - p).min())[-1])  # ties: the later unit


@pytest.mark.parametrize("size", [(9, 14), (14, 9), (31, 31)])
def test_click_picks_the_nearest_unit_at_borders_and_for_non_square_inputs(size: tuple[int, int]) -> None:
    net = nn.Sequential(nn.Conv2d(3, 3, 3, stride=2, padding=1), nn.Conv2d(3, 3, 3, stride=2))
    report = rf.receptive_field(net, size)
    h, w = size
    oh, ow = report.output_size
    for y in range(h):
        for x in range(w):
            assert rf.unit_at(report, (y, x)) == (_nearest(report, y, 0), _nearest(report, x, 1)), (y, x)
    assert rf.unit_at(report, (0, 0)) == (0, 0)
    assert rf.unit_at(report, (h - 1, w - 1)) == (oh - 1, ow - 1)
    assert rf.unit_at(report, (h - 1, 0)) == (oh - 1, 0)


def test_click_on_a_real_network_with_a_non_square_photo() -> None:
    state = rf.ExplorerState("resnet50", "chelsea", layer="layer3", size=224)
    h, w = state.input_size
    assert (h, w) == (149, 224)
    report = rf.receptive_field(tvm.resnet50(weights=None), (h, w), output="layer3")
    for point in [(0, 0), (h - 1, w - 1), (0, w - 1), (h / 2, w / 3)]:
        unit = state.click(*point)
        assert state.box == report.box(unit) and state.box_full == report.box(unit, clip=False)
    assert state.click(h - 1, w - 1) == (report.output_size[0] - 1, report.output_size[1] - 1)
    assert state.state["box"] == list(report.box(state.unit))


def test_bad_click_points() -> None:
    report = rf.receptive_field(nn.Conv2d(3, 3, 3), (10, 20))
    for bad in [(-1, 0), (0, 20), (10, 0), (1,), "0,0", (True, 1)]:
        with pytest.raises(ValueError, match="point"):
            rf.unit_at(report, bad)


# ----------------------------------------------------------------------------- bad inputs


def test_unknown_model_name_lists_the_models() -> None:
    with pytest.raises(ValueError, match="resnet50") as info:
        rf.ExplorerState("resnet5", "astronaut", size=64)
    assert "resnet5'" in str(info.value) and "densenet121" in str(info.value)


def test_unknown_layer_lists_valid_layers() -> None:
    src.set_language("en")
    try:
        with pytest.raises(ValueError, match="layer") as info:
            rf.ExplorerState("resnet18", "astronaut", layer="layer9", size=64)
        assert "layer3" in str(info.value) and "layer9" in str(info.value)
        with pytest.raises(ValueError, match=r"layer2\.0"):  # the tracer itself lists them too
            rf.receptive_field(tvm.resnet18(weights=None), 64, output="nope")
    finally:
        src.set_language("vi")


def test_image_that_is_not_rgb() -> None:
    for bad in [np.zeros((32, 32), np.uint8), np.zeros((32, 32, 4), np.uint8), torch.zeros(3, 32, 32)]:
        with pytest.raises(ValueError, match="RGB"):
            rf.load_photo(bad, 32)
    with pytest.raises(ValueError, match="image"):
        rf.load_photo("camera", 32)  # a grey photo of scikit-image is not offered
    with pytest.raises(ValueError, match="PNG"):
        rf.load_photo(b"not an image", 32)
    with pytest.raises(TypeError, match="image"):
        rf.load_photo(3.5, 32)


def test_uploaded_file_bytes_and_float_arrays() -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 80, 4), 200, np.uint8)).save(buffer, format="PNG")  # RGBA file: converted
    photo = rf.load_photo(buffer.getvalue(), 64)
    assert photo.shape == (32, 64, 3) and photo.dtype == np.uint8
    assert rf.load_photo(np.ones((20, 10, 3)), (16, 8)).max() == 255


def test_input_smaller_than_the_model_accepts() -> None:
    with pytest.raises(ValueError, match="input_size"):
        rf.ExplorerState("vgg16", "astronaut", size=16)  # five 2x2 poolings: 16 px is too small
    with pytest.raises(ValueError, match="size"):
        rf.load_photo("astronaut", 4)


# ----------------------------------------------------------------------------- ERF, static figure


def test_layer_erf_stays_inside_the_box_and_matches_the_plain_erf() -> None:
    state = rf.ExplorerState("resnet18", "coffee", layer="layer2", size=96)
    state.click(10, 80)
    erf = state.erf()
    top, left, bottom, right = state.box
    outside = erf.clone()
    outside[top : bottom + 1, left : right + 1] = 0
    assert outside.max() == 0 and erf.max() == 1  # zero gradient outside the theoretical RF
    assert state.erf() is erf  # computed once per unit
    batch = layer_erf(state.model, to_input(state.photo), "layer2", [state.unit, (0, 0)])
    assert torch.allclose(batch[0], erf, atol=1e-5) and not torch.allclose(batch[1], erf)


def test_headless_explorer_is_a_static_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("SRC_NO_WIDGETS", "1")
    fig = rf.explorer(model="resnet18", image="astronaut", size=64)
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) >= 1
    assert fig.explorer_state["layer"] == "layer3"
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_widget_click_moves_box_and_erf_without_a_frontend(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python side of the JupyterLab widget: a click sent by the JS sets unit, box and (lazily) the ERF."""
    pytest.importorskip("anywidget")
    from src.receptive_field.widget import _Explorer

    ui = _Explorer(rf.ExplorerState("resnet18", "astronaut", layer="layer1", size=64))
    before = (ui.state["box"], ui.panel.erf)
    ui.panel.click = [0.0, 63.0, 1]
    assert ui.state["unit"] == list(rf.unit_at(ui.s.report, (0, 63)))
    assert ui.panel.box == ui.state["box"] != before[0]
    assert ui.panel.erf != before[1] and ui.panel.erf_unit == ui.state["unit"]
    assert (ui.unit_y.value, ui.unit_x.value) == tuple(ui.state["unit"])  # sliders follow the click
    ui.layer_pick.value = "layer2"
    assert ui.state["layer"] == "layer2" and ui.panel.layer == "layer2"
    ui.panel.click = [-5.0, 3.0, 2]  # a bad point: the UI says so and stays alive
    assert "point" in ui.status.value


# ----------------------------------------------------------------------------- the exported page


def test_exported_page_is_self_contained(tmp_path) -> None:
    out = rf.export_page("resnet18", "layer3", "astronaut", tmp_path / "rf.html", size=64, grid=2)
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*\"(https?:)?//", html) and "http://" not in html
    assert "https://" not in html
    assert 'data-role="rf-photo" data-size="64,64"' in html and 'data-role="rf-layer"' in html
    data = json.loads(re.search(r'<script type="application/json" id="rf-data">(.*?)</script>', html, re.S)[1])
    assert list(data["layers"]) == ["layer1", "layer2", "layer3", "layer4"]
    report = rf.receptive_field(tvm.resnet18(weights=None), 64, output="layer3")
    layer = data["layers"]["layer3"]
    assert layer["jump"] == [16, 16] and layer["rf"] == [211, 211] and layer["out"] == list(report.output_size)
    assert len(layer["erf"]) == 4 and all(v.startswith("data:image/png;base64,") for v in layer["erf"].values())


def test_export_command_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "page.html"
    code = rf_export.main(["--model", "resnet18", "--layer", "layer2", "--layers", "layer1,layer2",
                           "--size", "48", "--grid", "2", "--out", str(out)])  # fmt: skip
    assert code == 0 and out.exists() and "KiB" in capsys.readouterr().out
    assert rf_export.main(["--model", "resnet18", "--layer", "layer7", "--size", "48", "--out", str(out)]) == 2
    assert "layer4" in capsys.readouterr().err  # the message lists the valid layers
    with pytest.raises(ValueError, match="grid"):
        rf.export_page("resnet18", "layer2", "astronaut", out, size=48, grid=0)


# ----------------------------------------------------------------------------- random vs trained ERF


@pytest.fixture
def fake_fcn_checkpoint(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A checkpoint of the capstone's FCN whose weights differ from the random ones (as training makes them)."""
    from src import compare
    from src.receptive_field import zoo

    with src._rng.seeded(1):
        model = compare.build_model("fcn", 5)
        for p in model.parameters():
            p.data.mul_(torch.linspace(0.2, 3.0, p.numel()).view_as(p))
    compare.save_checkpoint(model, "fcn", "fcn", 5, folder=tmp_path)
    index = json.loads((tmp_path / "checkpoints.json").read_text())["checkpoints"]
    real_load = compare.load_checkpoint
    monkeypatch.setattr(compare, "available_checkpoints", lambda: index)
    monkeypatch.setattr(compare, "load_checkpoint", lambda name: real_load(name, tmp_path))
    for key in ("fcn", "fcn:trained"):
        monkeypatch.delitem(zoo._BUILT, key, raising=False)
    yield model
    for key in ("fcn", "fcn:trained"):
        zoo._BUILT.pop(key, None)


def test_trained_erf_beside_the_random_one(fake_fcn_checkpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    assert rf.zoo.has_trained("fcn") and not rf.zoo.has_trained("resnet18") and not rf.zoo.has_trained(3)
    state = rf.ExplorerState("fcn", "chelsea", size=64)
    assert state.trained and state.state["trained"]
    random_erf, trained_erf = state.erf(), state.erf_trained()
    assert trained_erf.shape == random_erf.shape == state.input_size
    assert float(trained_erf.max()) == pytest.approx(1.0) and not torch.allclose(random_erf, trained_erf)
    trained = rf.zoo.trained_model("fcn")
    assert any(not torch.equal(a, b) for a, b in zip(trained.state_dict().values(), state.model.state_dict().values()))
    monkeypatch.setenv("SRC_NO_WIDGETS", "1")
    fig = rf.explorer(model="fcn", image="chelsea", size=64)
    assert len(fig.axes) == 3 and fig.explorer_state["trained"]
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_widget_shows_the_trained_erf_only_when_a_checkpoint_ships(fake_fcn_checkpoint) -> None:
    pytest.importorskip("anywidget")
    from src.receptive_field.widget import _Explorer

    ui = _Explorer(rf.ExplorerState("fcn", "chelsea", size=64))
    assert ui.panel.erf_trained.startswith("data:image/png") and all(ui.panel.labels)
    before = ui.panel.erf_trained
    ui.panel.click = [2.0, 60.0, 1]
    assert ui.panel.erf_trained != before  # follows the click like the random one
    ui.model_pick.value = "resnet18"
    assert ui.panel.erf_trained == "" and ui.panel.labels == ["", ""]


def test_trained_model_without_a_checkpoint_names_those_with_one() -> None:
    with pytest.raises(ValueError, match=r"trained|huấn luyện"):
        rf.zoo.trained_model("resnet18")


@pytest.mark.parametrize("name", rf.zoo.COURSE_MODELS)
def test_course_models_open_in_the_explorer(name: str) -> None:
    """The course's models trace (their encoder): a layer list, a box, an ERF (they did not, unnoticed, once)."""
    state = rf.ExplorerState(name, "coffee", size=64)
    assert len(state.layers) >= 4 and state.layer in state.layers
    t, left, b, right = state.box
    assert 0 <= t <= b < 64 and 0 <= left <= right < 64
    assert state.erf().shape == state.input_size
