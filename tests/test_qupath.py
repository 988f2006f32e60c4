"""QuPath GeoJSON: export → import round trip, QuPath's field names, hostile files, attention vs annotations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from shapely.geometry import Polygon, box, shape

from memamba_core.errors import InputError
from memamba_core.qupath import (
    ATTENTION_CLASS,
    TOP_CLASS,
    attention_by_annotation,
    auroc,
    parse_qupath_bytes,
    parse_qupath_geojson,
    read_qupath_geojson,
    slide_collection,
    write_geojson,
)
from memamba_core.viewer import PatchLayout

SIDE = 256.0


def _grid(nx=6, ny=4, offset=(1000, 2000)):
    """A slide with an nx × ny grid of patches (bag rows 0..n-1) at a level-0 offset."""
    gy, gx = np.mgrid[0:ny, 0:nx]
    coords = np.stack([gx.ravel() * SIDE + offset[0], gy.ravel() * SIDE + offset[1]], 1)
    return PatchLayout("S1", np.arange(nx * ny), coords, SIDE)


def _output(n, g=3, seed=0):
    rng = np.random.default_rng(seed)
    att = {"pathology/pool": rng.dirichlet(np.ones(n)), "pathology/ranked": rng.random(n), "genomics/pool": rng.random(g)}
    plan = np.eye(g)[rng.integers(0, g, n)]
    return att, plan, ("Tumour suppression", "Oncogenesis", "Immune")


def test_export_uses_quPath_fields_and_level0_squares(tmp_path):
    lay = _grid()
    att, plan, names = _output(len(lay))
    coll = slide_collection(lay, att, plan, names, k=5)
    assert coll["type"] == "FeatureCollection"
    dets = [f for f in coll["features"] if f["properties"]["objectType"] == "detection"]
    anns = [f for f in coll["features"] if f["properties"]["objectType"] == "annotation"]
    assert len(dets) == len(lay)
    for f, (x, y), row in zip(dets, lay.coords, lay.index):
        assert f["type"] == "Feature" and len(f["id"]) == 36          # a UUID, as QuPath writes ids
        geom = shape(f["geometry"])
        assert geom.is_valid and geom.equals(box(x, y, x + SIDE, y + SIDE))   # level-0 pixels of this patch
        p = f["properties"]
        assert set(p) >= {"objectType", "name", "color", "classification", "measurements"}
        assert p["classification"]["name"] == names[int(plan[row].argmax())]
        assert len(p["classification"]["color"]) == 3 and len(p["color"]) == 3
        m = p["measurements"]
        assert m["attention pool"] == pytest.approx(att["pathology/pool"][row])
        assert m["attention ranked"] == pytest.approx(att["pathology/ranked"][row])
        assert m["OT group"] == int(plan[row].argmax()) and m["OT mass"] == 1.0 and m["patch row"] == row
        assert not any(k.startswith("attention genomics") for k in m)
    tops = [f for f in anns if f["properties"]["classification"]["name"] == TOP_CLASS]
    order = np.argsort(-att["pathology/pool"], kind="stable")[:5]
    assert [f["properties"]["name"] for f in tops] == [f"top {r}" for r in range(1, 6)]
    assert [f["properties"]["measurements"]["patch row"] for f in tops] == order.tolist()
    groups = [f for f in anns if f["properties"]["name"].startswith("OT ")]
    assert sum(f["properties"]["measurements"]["patches"] for f in groups) == len(lay)
    for f in groups:
        g = f["properties"]["measurements"]["OT group"]
        expect = box(0, 0, 0, 0).union(shape(f["geometry"]))
        rows = np.flatnonzero(plan.argmax(1) == g)
        assert expect.area == pytest.approx(len(rows) * SIDE * SIDE)
    # deterministic: the same output exports the same file
    assert json.dumps(coll) == json.dumps(slide_collection(lay, att, plan, names, k=5))


def test_round_trip_keeps_every_feature_and_measurement(tmp_path):
    lay = _grid()
    att, plan, names = _output(len(lay))
    coll = slide_collection(lay, att, plan, names, k=5)
    path = write_geojson(tmp_path / "S1.geojson", coll)
    back = read_qupath_geojson(path, slide_size=(4000, 4000))
    assert len(back.objects) == len(coll["features"]) and back.skipped == []
    for f, o in zip(coll["features"], back.objects):
        p = f["properties"]
        assert o.object_type == p["objectType"] and o.name == p["name"] and o.id == f["id"]
        assert o.class_name == p["classification"]["name"]
        assert list(o.colour) == p["classification"]["color"]
        assert o.measurements == pytest.approx(p["measurements"])
        assert o.geometry.is_valid and o.geometry.equals(shape(f["geometry"]))
    assert back.classes() == [TOP_CLASS] + [n for n in names if any(f["properties"]["name"] == f"OT {n}"
                                                                     for f in coll["features"])]


def test_no_plan_classifies_by_attention():
    lay = _grid(2, 2)
    att, _, _ = _output(4)
    feats = slide_collection(lay, att, None, (), k=2)["features"]
    assert {f["properties"]["classification"]["name"] for f in feats if f["properties"]["objectType"] == "detection"} \
        == {ATTENTION_CLASS}
    with pytest.raises(InputError, match="branch 'pathology/nope'"):
        slide_collection(lay, att, None, (), colour_key="pathology/nope")
    bad = dict(att, **{"pathology/pool": np.array([0.1, np.nan, 0.3, 0.6])})
    with pytest.raises(InputError, match="non-finite"):
        slide_collection(lay, bad)


def _qupath_annotation(coords, cls="Tumor", holes=(), kind="Polygon", **props):
    geom = {"type": kind, "coordinates": [coords, *holes] if kind == "Polygon" else coords}
    return {"type": "Feature", "id": "b5f2a3e0-0000-4000-8000-000000000001", "geometry": geom,
            "properties": {"objectType": "annotation", "classification": {"name": cls, "color": [200, 0, 0]}, **props}}


def test_reads_what_quPath_writes_polygons_multipolygons_holes_legacy_fields():
    outer = [[0, 0], [1000, 0], [1000, 1000], [0, 1000], [0, 0]]
    hole = [[400, 400], [600, 400], [600, 600], [400, 600], [400, 400]]
    multi = [[[[2000, 0], [2500, 0], [2500, 500], [2000, 0]]], [[[3000, 0], [3500, 0], [3500, 500], [3000, 0]]]]
    data = [
        _qupath_annotation(outer, holes=[hole], name="region 1"),
        _qupath_annotation(multi, cls="Stroma", kind="MultiPolygon"),
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [outer]},   # QuPath 0.2-0.3 style
         "properties": {"object_type": "annotation", "classification": {"name": "Necrosis", "colorRGB": -16711936},
                        "measurements": [{"name": "Area", "value": 12.5}, {"name": "NaN one", "value": None}]}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [5, 5]}, "properties": {"objectType": "annotation"}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [outer]}, "properties": {}},  # no type: annotation
    ]
    f = parse_qupath_geojson(data, "pathologist.geojson", slide_size=(4000, 4000))
    assert [o.class_name for o in f.objects] == ["Tumor", "Stroma", "Necrosis", None]
    assert f.objects[0].geometry.area == pytest.approx(1000 * 1000 - 200 * 200)      # the hole stays a hole
    assert f.objects[1].geometry.geom_type == "MultiPolygon"
    assert f.objects[2].colour == (0, 255, 0) and f.objects[2].measurements == {"Area": 12.5}
    assert f.objects[3].object_type == "annotation"
    assert len(f.skipped) == 1 and "Point" in f.skipped[0] and "feature 3" in f.skipped[0]
    assert f.classes() == ["Tumor", "Stroma", "Necrosis", "Unclassified"]
    single = parse_qupath_geojson(data[0])
    assert len(single.objects) == 1


@pytest.mark.parametrize("raw, match", [
    (b"not json at all", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b'{"type": "Topology"}', "not QuPath GeoJSON"),
    (b'{"type": "FeatureCollection", "features": 3}', "'features' list"),
    (b'[{"type": "Feature", "properties": {"name": "x"}}]', "feature 0 .'x'.: has no GeoJSON geometry"),
    (b'[1, 2]', "feature 0: is not a GeoJSON Feature"),
    (b'[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[10,10],[10,0],[0,10],[0,0]]]},'
     b'"properties":{"name":"bowtie"}}]', "'bowtie'.*not a valid polygon.*Self-intersection"),
    (b'[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1]]]},"properties":{}}]', "malformed"),
    (b'[{"type":"Feature","geometry":{"type":"Polygon","coordinates":"x"},"properties":{}}]', "malformed"),
    (b'[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[NaN,1],[1,0],[0,0]]]},"properties":{}}]',
     "NaN, which is not a number"),
    (b'[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1e999,1],[1,0],[0,0]]]},"properties":{}}]',
     "overflows to infinity"),
    (b'[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[9,0],[9,9],[0,0]]]},'
     b'"properties":{"measurements":{"a":"text"}}}]', "measurement 'a' is not a number"),
    (b'[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[9,0],[9,9],[0,0]]]},'
     b'"properties":{"classification":{"name":"T","color":[300,0,0]}}}]', "colour must be"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply|not valid JSON"),
])
def test_hostile_or_broken_files_are_input_errors(raw, match):
    with pytest.raises(InputError, match=match):
        parse_qupath_bytes(raw, "upload.geojson")


def test_annotations_of_another_slide_are_refused():
    far = _qupath_annotation([[90000, 90000], [91000, 90000], [91000, 91000], [90000, 90000]], name="elsewhere")
    with pytest.raises(InputError, match="'elsewhere'.*outside this slide .4000 × 3000 px.*another slide"):
        parse_qupath_geojson([far], "a.geojson", slide_size=(4000, 3000))
    edge = _qupath_annotation([[-20, -20], [4050, -20], [4050, 3020], [-20, -20]])   # a little past the edge: fine
    assert len(parse_qupath_geojson([edge], "a.geojson", slide_size=(4000, 3000)).objects) == 1


def test_huge_files_are_bounded(tmp_path):
    feats = [_qupath_annotation([[0, 0], [9, 0], [9, 9], [0, 0]])] * 50
    with pytest.raises(InputError, match="50 features is more than the 10"):
        parse_qupath_geojson(feats, "big.geojson", limits={"max_features": 10})
    with pytest.raises(InputError, match="more than 100 polygon vertices"):
        parse_qupath_geojson(feats, "big.geojson", limits={"max_vertices": 100})
    p = tmp_path / "big.geojson"
    p.write_text(json.dumps(feats))
    with pytest.raises(InputError, match="MiB is more than"):
        read_qupath_geojson(p, limits={"max_bytes": 1000})
    with pytest.raises(InputError, match="no such GeoJSON file"):
        read_qupath_geojson(tmp_path / "missing.geojson")


# -- attention inside / outside the annotated classes ----------------------------------------------------

def test_auroc_matches_the_definition():
    assert auroc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    assert auroc([0.5, 0.5, 0.5], [True, False, False]) == 0.5
    assert auroc([0.3, 0.1, 0.2], [True, False, True]) == pytest.approx(1.0)
    assert auroc([0.1, 0.3, 0.2, 0.4], [True, False, True, False]) == pytest.approx(0.0)
    assert auroc([1, 2], [True, True]) is None


def test_attention_inside_an_annotation_on_a_constructed_case():
    """A 6×4 grid; the pathologist outlines the left 2 columns as Tumor. Attention is high on 6 of its 8 patches
    and on 1 patch outside, so AUROC = P(inside > outside) is known exactly."""
    lay = _grid(6, 4, offset=(0, 0))
    cols = (lay.coords[:, 0] // SIDE).astype(int)
    inside = cols < 2
    a = np.full(len(lay), 0.01)
    hot_in = np.flatnonzero(inside)[:6]
    a[hot_in] = 0.1
    hot_out = np.flatnonzero(~inside)[0]
    a[hot_out] = 0.1
    tumour = Polygon([(0, 0), (2 * SIDE, 0), (2 * SIDE, 4 * SIDE), (0, 4 * SIDE)])
    stroma = box(5 * SIDE, 0, 6 * SIDE, 4 * SIDE)
    f = parse_qupath_geojson({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": tumour.__geo_interface__, "properties": {"classification": {"name": "Tumor"}}},
        {"type": "Feature", "geometry": stroma.__geo_interface__, "properties": {"classification": {"name": "Stroma"}}},
    ]})
    df = attention_by_annotation(lay, a, f.annotations()).set_index("class")
    n_in, n_out = 8, 16
    # pairs (inside, outside): hot-in vs cold-out wins, hot-in vs hot-out ties, cold-in vs cold-out ties, cold-in vs hot-out loses
    expect = (6 * 15 + 0.5 * 6 * 1 + 0.5 * 2 * 15 + 0 * 2 * 1) / (n_in * n_out)
    t = df.loc["Tumor"]
    assert t["patches inside"] == 8 and t["patch share"] == pytest.approx(8 / 24)
    assert t["attention share"] == pytest.approx(a[inside].sum() / a.sum())
    assert t["enrichment"] == pytest.approx(t["attention share"] / (8 / 24))
    assert t["AUROC"] == pytest.approx(expect)
    s = df.loc["Stroma"]
    assert s["patches inside"] == 4 and s["AUROC"] < 0.5
    everything = [parse_qupath_geojson([{"type": "Feature", "geometry": box(-1, -1, 9999, 9999).__geo_interface__,
                                         "properties": {}}]).objects[0]]
    assert attention_by_annotation(lay, a, everything)["AUROC"].iloc[0] is None   # all inside: undefined


def test_attention_stats_refuse_another_bag():
    lay = _grid(2, 2)
    with pytest.raises(InputError, match="another bag"):
        attention_by_annotation(lay, np.ones(3), [])
    with pytest.raises(InputError, match="non-finite"):
        attention_by_annotation(lay, np.array([1, np.inf, 1, 1.0]), [])
