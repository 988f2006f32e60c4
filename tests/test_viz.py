"""Figure builders of memamba_core.viz: the figures carry the data they are given."""

import base64
import io

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from memamba_core.survival.km import km_groups
from memamba_core import viz


@pytest.fixture(scope="module")
def km_result():
    rng = np.random.default_rng(3)
    r = rng.normal(size=80)
    t = rng.exponential(np.exp(-r)) * 30 + 0.2
    e = (rng.random(80) < 0.6).astype(int)
    return km_groups(t, e, r, "tertiles")


def test_km_figure_has_curves_bands_censors_and_at_risk(km_result):
    fig = viz.km_figure(km_result)
    assert isinstance(fig, go.Figure)
    names = [tr.name for tr in fig.data]
    for c in km_result.curves:
        curve = next(tr for tr in fig.data if tr.name and tr.name.startswith(c.label + " (n="))
        np.testing.assert_allclose(curve.y, c.survival)
        assert f"{c.label} 95% CI" in names
        if c.censor_times.size:
            marks = next(tr for tr in fig.data if tr.name == f"{c.label} censored")
            np.testing.assert_allclose(marks.x, c.censor_times)
        row = next(tr for tr in fig.data if tr.name == f"at risk {c.label}")
        assert [int(v) for v in row.text] == km_result.at_risk.loc[c.label].tolist()
    assert "log-rank p" in fig.layout.title.text


def test_km_png_is_png(km_result):
    png = viz.km_png(km_result)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size[0] > 400


def test_format_p():
    assert viz.format_p(0.0004) == "p < 0.001"
    assert viz.format_p(0.0312) == "p = 0.031"
    assert viz.format_p(float("nan")) == "p = n/a"


def test_scale_scores():
    s = np.array([0.1, 5.0, 0.2, 0.3])
    np.testing.assert_allclose(viz.scale_scores(s, "percentile"), [0, 1, 1 / 3, 2 / 3])
    np.testing.assert_allclose(viz.scale_scores(s, "raw"), (s - 0.1) / 4.9)
    np.testing.assert_allclose(viz.scale_scores(np.ones(3), "raw"), 0.5)
    with pytest.raises(ValueError):
        viz.scale_scores(s, "log")


def _slide_like():
    thumb = Image.new("RGB", (100, 50), (240, 240, 240))
    coords = np.array([[0, 0], [256, 0], [512, 256], [1024, 512]])  # level-0; thumbnail = level-0 / 10
    return thumb, coords


def test_overlay_paints_patches_at_their_coordinates():
    thumb, coords = _slide_like()
    layer = viz.overlay_rgba((50, 100), coords, 256, 0.1, np.tile([1.0, 0, 0], (4, 1)), 1.0)
    assert layer.shape == (50, 100, 4)
    assert layer[0, 0, 3] == 255 and layer[0, 0, 0] == 255  # patch 0 at (0, 0)
    assert layer[30, 55, 3] == 255  # patch 2 covers x 51..77, y 25..51
    assert layer[45, 5, 3] == 0  # no patch there
    out = viz.overlay_image(thumb, layer)
    assert out.mode == "RGB" and out.getpixel((1, 1)) == (255, 0, 0)


def test_heatmap_figure_points_and_colours():
    thumb, coords = _slide_like()
    scores = np.array([0.1, 0.9, 0.5, 0.2])
    fig, img = viz.heatmap_figure(thumb, coords, scores, 256, 0.1, opacity=1.0, colormap="viridis", scaling="percentile")
    pts = fig.data[-1]
    assert list(pts.customdata) == [0, 1, 2, 3]
    np.testing.assert_allclose(pts.x, (coords[:, 0] + 128) * 0.1)
    assert "rank 1/4" in pts.text[1]
    # highest score painted in viridis' top colour (yellow), lowest in its bottom colour (purple)
    hi, lo = np.asarray(img.getpixel((30, 2))), np.asarray(img.getpixel((2, 2)))
    assert hi[0] > 200 and hi[1] > 200 and lo[2] > lo[1]
    fig0, img0 = viz.heatmap_figure(thumb, coords, scores, 256, 0.1, opacity=0.0)
    assert img0.getpixel((2, 2)) == (240, 240, 240)
    with pytest.raises(ValueError):
        viz.heatmap_figure(thumb, coords, scores, 256, 0.1, colormap="rainbow-unicorn")


def test_slide_points_figure():
    thumb, coords = _slide_like()
    fig = viz.slide_points_figure(thumb, coords, np.tile([0, 0, 1.0], (4, 1)), 256, 0.1, alpha=[1, 0, 0, 0])
    src = fig.data[0].source
    assert src.startswith("data:image/jpeg;base64,")
    arr = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))), dtype=int)
    assert arr.shape == (50, 100, 3)
    assert abs(arr[2, 2] - [0, 0, 255]).max() < 40 and abs(arr[2, 30] - 240).max() < 20


def test_top_k():
    s = np.array([0.2, 0.9, 0.9, 0.1])
    assert viz.top_k(s, 2).tolist() == [1, 2]
    assert viz.top_k(s, 10).tolist() == [1, 2, 0, 3]
    assert viz.top_k(s, 0).tolist() == []


def test_patch_reading_is_the_slide_views_not_a_copy(tmp_path):
    from memamba_core import slides
    from memamba_core.demo.render import write_pyramid_tiff

    assert viz.read_patch is slides.read_patch and viz.read_patches is slides.read_patches
    assert viz.thumbnail_scale is slides.thumbnail_scale
    img = np.full((512, 1024, 3), 230, np.uint8)
    img[0:256, 256:512] = (200, 20, 20)                     # patch at level-0 (256, 0) is red
    write_pyramid_tiff(tmp_path / "s.tif", img, mpp=0.5, min_side=128)
    with slides.open_slide(tmp_path / "s.tif") as sl:
        ims = viz.read_patches(sl, np.array([[0, 0], [256, 0]]), [1, 0], 256)
        assert [im.size for im in ims] == [(256, 256)] * 2
        assert np.abs(np.asarray(ims[0], int) - (200, 20, 20)).mean() < 8
        assert np.abs(np.asarray(ims[1], int) - 230).mean() < 8
        assert viz.read_patch(sl, (256, 0), 256, level=2).size == (64, 64)
    assert viz.thumbnail_scale(Image.new("RGB", (100, 50)), (1000, 500)) == pytest.approx(0.1)
    assert viz.thumbnail_scale((100, 50), (1000, 500)) == pytest.approx(0.1)


def test_selected_patch_reads_the_figures_customdata():
    thumb, coords = _slide_like()
    fig, _ = viz.heatmap_figure(thumb, coords, np.arange(4.0), 256, 0.1)
    assert list(fig.data[-1].customdata) == [0, 1, 2, 3]
    assert viz.selected_patch({"selection": {"points": [{"customdata": [2], "point_index": 0}]}}, 4) == 2
    assert viz.selected_patch({"selection": {"points": [{"customdata": 3}]}}, 4) == 3
    assert viz.selected_patch({"selection": {"points": [{"point_index": 1}]}}, 4) == 1
    assert viz.selected_patch({"selection": {"points": [{"point_index": 5}]}}, 4) is None  # not a patch of this slide
    assert viz.selected_patch({"selection": {"points": []}}, 4) is None and viz.selected_patch(None, 4) is None

    class _Event:  # Streamlit's return value also exposes the selection as attributes
        selection = {"points": [{"customdata": [1]}]}

    assert viz.selected_patch(_Event(), 4) == 1


def test_transport_aggregation_and_mass():
    rng = np.random.default_rng(0)
    plan = np.eye(3)[rng.integers(0, 3, size=1000)]
    mat, starts, order = viz.aggregate_plan(plan, max_rows=50)
    assert mat.shape == (50, 3) and sorted(order.tolist()) == list(range(1000))
    np.testing.assert_allclose(mat.sum(1), 1.0)
    assert (np.diff(viz.dominant_group(plan[order])) >= 0).all()
    np.testing.assert_allclose(viz.mass_per_group(plan), np.bincount(plan.argmax(1), minlength=3) / 1000)
    fig = viz.transport_matrix_figure(plan, ["a", "b", "c"], max_rows=50, highlight=1)
    assert np.asarray(fig.data[0].z).shape == (50, 3) and "averaged into 50 rows" in fig.layout.title.text
    small = viz.transport_matrix_figure(plan[:10], ["a", "b", "c"])
    assert np.asarray(small.data[0].z).shape == (10, 3)
    bars = viz.mass_figure(plan, ["a", "b", "c"], highlight=2)
    np.testing.assert_allclose(bars.data[0].y, viz.mass_per_group(plan))
    assert bars.data[0].marker.line.width[2] == 3
    assert viz.group_colours(20).shape == (20, 3)


def test_bars():
    f = viz.expert_weights_figure({"pathology": 0.2, "genomics": 0.3, "synergy": 0.5})
    assert list(f.data[0].y) == ["pathology", "genomics", "synergy"]
    g = viz.contributions_figure(["x", "y", "z"], [0.5, -0.1, 0.2])
    assert list(g.data[0].y) == ["y", "z", "x"]


def test_survival_curves():
    x, y = viz.step_points([10, 20, 30], [0.9, 0.7, 0.5, 0.3], 40)
    assert x.tolist() == [0, 10, 20, 30, 40] and y.tolist() == [1, 0.9, 0.7, 0.5, 0.3]
    with pytest.raises(ValueError):
        viz.step_points([10], [0.9, 0.8, 0.1], 20)
    cohort = np.array([[0.9, 0.8, 0.6, 0.4], [0.8, 0.6, 0.5, 0.2]])
    fig = viz.survival_curve_figure([10, 20, 30], [0.9, 0.7, 0.5, 0.3], cohort)
    assert fig.data[-1].name == "This patient" and list(fig.data[-1].y) == [1, 0.9, 0.7, 0.5, 0.3]
    mean = next(tr for tr in fig.data if tr.name and tr.name.startswith("cohort mean"))
    np.testing.assert_allclose(mean.y[1:], cohort.mean(0))


def test_training_curves():
    recs = [{"fold": 0, "epoch": 1, "loss": 1.0, "val_c_index": 0.6},
            {"fold": 0, "epoch": 2, "loss": 0.8, "val_c_index": 0.65},
            {"fold": 1, "epoch": 1, "loss": 1.1}, {"event": "start"}]
    fig = viz.training_curves_figure(recs)
    names = [t.name for t in fig.data]
    assert "fold 0 loss" in names and "fold 0 val_c_index" in names and "fold 1 val_c_index" not in names
    assert list(next(t for t in fig.data if t.name == "fold 0 loss").y) == [1.0, 0.8]


def test_report_html_is_self_contained():
    thumb, _ = _slide_like()
    rep = viz.PatientReport(
        case_id="P<1>", cohort="demo", model="demo", risk=-2.1, percentile=80.0,
        survival=np.array([0.9, 0.7, 0.5, 0.3]), cuts=np.array([10, 20, 30]),
        cohort_mean_survival=np.array([0.95, 0.8, 0.6, 0.4]), clinical={"age": 61},
        expert_weights={"pathology": 0.5, "genomics": 0.5}, contributions={"Oncogenes": 0.4},
        heatmap=thumb, heatmap_caption="pathology/ranked", patches=[(thumb, "rank 1")], notes=["no slide"],
    )
    html = viz.report_html(rep)
    assert html.startswith("<!doctype html>") and "P&lt;1&gt;" in html
    assert html.count("data:image/png;base64,") == 3
    assert "80th" in html and "Oncogenes" in html and "no slide" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html
