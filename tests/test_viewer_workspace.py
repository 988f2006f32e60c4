"""The Patient page's slide workspace, library side: slide notes, the layers, the slide's GeoJSON, annotation import."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import tifffile

from memamba_core.demo.render import write_pyramid_tiff
from memamba_core.errors import InputError
from memamba_core.qupath import STATS_COLUMNS, parse_qupath_bytes
from memamba_core.slides import open_slide
from memamba_core.slides.deepzoom import DeepZoomSource
from memamba_core.viewer import (LAYER_NAMES, PatchLayout, TileBox, annotation_report, slide_geojson, slide_notes,
                                 transport_layers,
                                 workspace_layers)
from tests._viewer_fixtures import textured_rgb

W, H, SIDE = 1024, 768, 128


def _layout():
    gy, gx = np.mgrid[0 : H // SIDE, 0 : W // SIDE]
    coords = np.stack([gx.ravel() * SIDE, gy.ravel() * SIDE], 1)
    return PatchLayout("S1", np.arange(len(coords)) + 3, coords, SIDE)   # bag rows 3.. (another slide holds 0–2)


def _outputs(n_bag: int, g: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    att = {"pathology/pool": rng.random(n_bag), "pathology/ranked": rng.random(n_bag), "genomics/pool": rng.random(g)}
    plan = rng.dirichlet(np.ones(g), n_bag) / n_bag
    return att, plan


def _single_level_tiff(path, rgb, mpp: float | None):
    kw = {} if mpp is None else {"resolution": (1e4 / mpp, 1e4 / mpp), "resolutionunit": "CENTIMETER"}
    tifffile.imwrite(path, rgb, photometric="rgb", tile=(256, 256), compression="jpeg", metadata=None, **kw)


def test_slide_notes_say_when_the_pyramid_is_missing_and_when_the_scale_is_unknown(tmp_path, monkeypatch):
    rgb = textured_rgb(H, W, seed=1)
    good = tmp_path / "good.tif"
    write_pyramid_tiff(good, rgb, mpp=0.5, min_side=128)
    flat = tmp_path / "flat.tif"
    _single_level_tiff(flat, rgb, mpp=0.5)
    bare = tmp_path / "bare.tif"
    _single_level_tiff(bare, rgb, mpp=None)
    monkeypatch.setattr(DeepZoomSource, "KEEP_PIXELS", 200_000)   # what the tile reader keeps of the coarsest level
    with open_slide(good) as s:
        assert slide_notes(s) == []
    with open_slide(flat) as s:
        assert s.level_count == 1
        (note,) = slide_notes(s)
        assert "flat.tif has no pyramid" in note and "slow" in note and "--pyramid" in note
    with open_slide(bare) as s:
        notes = slide_notes(s)
        assert any("no resolution metadata" in n and "scale is unknown" in n for n in notes), notes
    monkeypatch.setattr(DeepZoomSource, "KEEP_PIXELS", 16_000_000)
    with open_slide(flat) as s:                                    # a small single-level image is kept whole: fine
        assert slide_notes(s) == []


def test_layers_follow_the_choices_and_keep_stable_names():
    layout = _layout()
    att, plan = _outputs(len(layout) + 3)
    specs = workspace_layers(layout, att, "pathology/pool", k=5, opacity=0.4)
    assert [s.name for s in specs] == [LAYER_NAMES["attention"], LAYER_NAMES["grid"], LAYER_NAMES["top"]]
    assert specs[0].opacity == 0.4 and specs[0].visible and not specs[1].visible
    box = TileBox(0, 0, 0, (0.0, 0.0), 4.0, (256, 192), 0)
    img = {s.name: s.layer.render(box) for s in specs}
    assert (img["attention"][..., 3] == 255).mean() > 0.95          # every patch filled
    top = img["top-k"][..., 3] > 0
    assert 0 < top.mean() < 0.5                                    # outlines of 5 patches only

    with_plan = workspace_layers(layout, att, "pathology/ranked", plan=plan, group=1)
    ot = next(s for s in with_plan if s.name == LAYER_NAMES["transport"])
    assert ot.visible                                              # a chosen group is shown
    dom = plan[layout.index].argmax(1)
    painted = ot.layer.render(box)[..., 3] > 0
    assert painted.mean() == pytest.approx((dom == 1).mean(), abs=0.02)
    other = workspace_layers(layout, att, "pathology/ranked", cmap="jet")
    assert other[0].layer.fingerprint() != with_plan[0].layer.fingerprint()
    with pytest.raises(InputError, match="pathology/nope.*pathology/pool"):
        workspace_layers(layout, att, "pathology/nope")


def test_slide_geojson_is_qupaths_and_round_trips():
    layout = _layout()
    att, plan = _outputs(len(layout) + 3)
    raw = slide_geojson(layout, att, "pathology/pool", plan, ("A", "B", "C"), k=4)
    f = parse_qupath_bytes(raw, "S1.geojson", slide_size=(W, H))
    dets = [o for o in f.objects if o.object_type == "detection"]
    assert len(dets) == len(layout)
    assert [int(o.measurements["patch row"]) for o in dets] == layout.index.tolist()
    assert all(o.geometry.bounds[:2] == tuple(map(float, xy)) for o, xy in zip(dets, layout.coords))
    assert dets[0].measurements["attention ranked"] == pytest.approx(att["pathology/ranked"][3])
    tops = [o for o in f.annotations() if o.class_name == "Top attention"]
    assert [o.name for o in tops] == [f"top {r}" for r in range(1, 5)]
    assert {o.class_name for o in f.annotations()} - {"Top attention"} <= {"A", "B", "C"}
    assert len(json.loads(raw)["features"]) == len(f.objects)


def _ann(coords, name="tumour", cls="Tumor"):
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [coords]},
            "properties": {"objectType": "annotation", "name": name, "classification": {"name": cls}}}


def test_annotations_are_read_against_the_slide_and_scored():
    layout = _layout()
    n = len(layout) + 3
    scores = np.full(n, 0.01)
    inside = (layout.coords[:, 0] < 512) & (layout.coords[:, 1] < 384)     # the top-left block of patches
    scores[layout.index[inside]] = 1.0
    region = [[0, 0], [512, 0], [512, 384], [0, 384], [0, 0]]
    doc = {"type": "FeatureCollection", "features": [
        _ann(region), _ann([[700, 500], [900, 500], [900, 700], [700, 500]], "stroma", "Stroma"),
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [5, 5]}, "properties": {}}]}
    rep = annotation_report(layout, scores, json.dumps(doc).encode(), "mine.geojson", (W, H))
    assert rep.n_annotations == 2 and len(rep.skipped) == 1 and "point" in rep.skipped[0].lower()
    assert list(rep.table.columns) == STATS_COLUMNS
    tum = rep.table.set_index("class").loc["Tumor"]
    assert tum["patches inside"] == inside.sum() and tum["AUROC"] == 1.0
    assert tum["attention share"] == pytest.approx(scores[layout.index[inside]].sum() / scores[layout.index].sum())
    assert rep.layer is not None and rep.layer.render(TileBox(0, 0, 0, (0.0, 0.0), 4.0, (256, 192), 0))[..., 3].any()

    bowtie = {"type": "FeatureCollection", "features": [_ann([[0, 0], [100, 100], [100, 0], [0, 100], [0, 0]], "bow")]}
    with pytest.raises(InputError, match=r"bad\.geojson: feature 0 \('bow'\)"):
        annotation_report(layout, scores, json.dumps(bowtie).encode(), "bad.geojson", (W, H))
    far = {"type": "FeatureCollection", "features": [_ann([[5000, 0], [6000, 0], [6000, 900], [5000, 0]], "far")]}
    with pytest.raises(InputError, match="far"):
        annotation_report(layout, scores, json.dumps(far).encode(), "other.geojson", (W, H))
    with pytest.raises(InputError, match="notjson.geojson"):
        annotation_report(layout, scores, b"\x89PNG not json", "notjson.geojson", (W, H))
    empty = annotation_report(layout, scores, b'{"type": "FeatureCollection", "features": []}', "e.geojson", (W, H))
    assert empty.n_annotations == 0 and empty.layer is None and empty.table.empty


def test_transport_layers_show_the_dominant_group():
    layout = _layout()
    _, plan = _outputs(len(layout) + 3, g=4)
    box = TileBox(0, 0, 0, (0.0, 0.0), 4.0, (256, 192), 0)
    ot_all, grid = transport_layers(layout, plan)
    assert (ot_all.name, grid.name) == (LAYER_NAMES["transport"], LAYER_NAMES["grid"]) and not grid.visible
    assert (ot_all.layer.render(box)[..., 3] > 0).mean() > 0.95
    dom = plan[layout.index].argmax(1)
    one = transport_layers(layout, plan, group=2)[0].layer.render(box)[..., 3] > 0
    assert one.mean() == pytest.approx((dom == 2).mean(), abs=0.02)


def test_a_slide_without_pyramid_serves_deep_tiles_and_refuses_zoomed_out_ones(tmp_path, monkeypatch):
    import memamba_core.viewer.deepzoom as vdz
    from memamba_core.viewer import SlideDeepZoom, TileService

    flat = tmp_path / "flat.tif"
    _single_level_tiff(flat, textured_rgb(H, W, seed=2), mpp=0.5)
    monkeypatch.setattr(DeepZoomSource, "KEEP_PIXELS", 100_000)     # the one level is "large"
    monkeypatch.setattr(vdz, "MAX_READ_PIXELS", 300_000)
    with SlideDeepZoom(flat) as dz:
        top = dz.level_count - 1
        assert dz.tile_image(top, 1, 1).size == dz.box(top, 1, 1).size          # level 0: read as usual
        assert dz.read_pixels(dz.box(top - 1, 0, 0)) <= 300_000
        dz.tile_image(top - 1, 0, 0)                                             # 2× zoomed out: 256² × 4 px
        with pytest.raises(InputError, match="zoom in"):
            dz.tile_image(top - 3, 0, 0)                                         # 8× out: 1 Mpx would be read
    svc = TileService(hosts={"h"})
    tok = svc.register_slide(flat)
    assert svc.respond("GET", f"/dz/{tok}_files/{top}/0_0.jpeg", "h").status == 200
    r = svc.respond("GET", f"/dz/{tok}_files/{top - 3}/0_0.jpeg", "h")
    assert r.status == 500 and b"pyramidal TIFF" in r.body
    svc.close()


