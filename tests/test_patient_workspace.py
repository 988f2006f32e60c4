"""The Patient page's slide workspace under AppTest: the viewer is mounted for a patient with a slide, and bad slide
files get a message that says what to fix while the page keeps working (truncated file, not a slide, a TIFF
without a pyramid, a slide without resolution metadata)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tifffile
from streamlit.testing.v1 import AppTest

from memamba_core.data import load_cohort
from memamba_core.slides import open_slide
from memamba_core.slides.deepzoom import DeepZoomSource
from memamba_core.app.text import md
from tests.e2e.demo_env import tiny_demo

HOME = str(Path(__file__).resolve().parents[1] / "dashboard" / "Home.py")


@pytest.fixture(scope="module")
def broken_cohort(demo_root, tmp_path_factory):
    """A copy of the tiny demo whose first three patients' slides are: truncated, not a slide, flat without a scale."""
    cohort_dir, _ = tiny_demo(demo_root)
    copy = tmp_path_factory.mktemp("broken_slides") / "cohort"
    shutil.copytree(cohort_dir, copy)
    cohort = load_cohort(copy)
    cases = cohort.case_ids()[:4]
    paths = [cohort.slide_path(cohort.patient(c).slide_ids[0]) for c in cases]
    raw = paths[0].read_bytes()
    paths[0].write_bytes(raw[: len(raw) // 3])
    paths[1].write_bytes(b"this is a text file, not a slide\n" * 100)
    with open_slide(paths[2]) as s:
        rgb = s.read_array((0, 0), 0, s.dimensions)
    tifffile.imwrite(paths[2], rgb, photometric="rgb", tile=(256, 256), compression="jpeg", metadata=None)
    return str(copy), cases


def _page(app_env, cohort: str, case: str) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=180)
    at.session_state["cohort_source"] = cohort
    at.session_state["case_id"] = case
    at.switch_page("app_pages/2_Patient.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _viewers(at: AppTest) -> int:
    return sum(1 for el in at.get("component_instance") if "slide_viewer" in el.proto.component_name)


def test_bad_slide_files_are_explained_and_the_page_keeps_working(app_env, broken_cohort, monkeypatch):
    cohort, (truncated, not_slide, flat, good) = broken_cohort
    monkeypatch.setattr(DeepZoomSource, "KEEP_PIXELS", 500_000)   # the flat demo slide (3.7 Mpx) counts as large

    at = _page(app_env, cohort, truncated)
    warn = " ".join(w.value for w in at.warning)
    assert "not a readable whole-slide image" in warn or "truncated" in warn, warn
    assert _viewers(at) == 0 and at.metric                      # the prediction is still shown

    at = _page(app_env, cohort, not_slide)
    assert any("not a readable whole-slide image" in w.value for w in at.warning), [w.value for w in at.warning]
    assert _viewers(at) == 0

    at = _page(app_env, cohort, flat)
    warn = [w.value for w in at.warning]
    assert any("has no pyramid" in w and "slow" in w for w in warn), warn
    assert any("scale is unknown" in w for w in warn), warn
    assert _viewers(at) == 1                                    # still viewable

    at = _page(app_env, cohort, good)
    assert not at.warning and _viewers(at) == 1
    assert any(b.label.endswith("as QuPath GeoJSON") for b in at.get("download_button"))


def test_transport_page_mounts_the_viewer(app_env):
    at = AppTest.from_file(HOME, default_timeout=180)
    at.switch_page("app_pages/3_Transport_map.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert _viewers(at) == 1


@pytest.fixture(scope="module")
def two_slides(demo_root, tmp_path_factory):
    """A copy of the tiny demo whose first patient has a second slide (another slide's image and patches)."""
    import pandas as pd

    cohort_dir, _ = tiny_demo(demo_root)
    copy = tmp_path_factory.mktemp("two_slides") / "cohort"
    shutil.copytree(cohort_dir, copy)
    labels = pd.read_csv(copy / "labels.csv")
    first, donor = labels.iloc[0], labels.iloc[1]
    extra = first.copy()
    extra["slide_id"] = first["slide_id"].replace("DX1", "DX2")
    for sub, ext in (("h5_files", ".h5"), ("pt_files", ".pt"), ("slides", ".tif")):
        src = copy / sub / f"{donor['slide_id']}{ext}"
        if src.exists():
            shutil.copy(src, copy / sub / f"{extra['slide_id']}{ext}")
    pd.concat([labels.iloc[:1], extra.to_frame().T, labels.iloc[1:]]).to_csv(copy / "labels.csv", index=False)
    return str(copy), str(first["case_id"]), (str(first["slide_id"]), str(extra["slide_id"]))


def _viewer_args(at: AppTest) -> dict:
    import json

    (el,) = [el for el in at.get("component_instance") if "slide_viewer" in el.proto.component_name]
    return json.loads(el.proto.json_args)


def test_a_multi_slide_patient_views_each_slide_with_its_own_patches(app_env, two_slides):
    cohort, case, (s1, s2) = two_slides
    at = _page(app_env, cohort, case)
    first = _viewer_args(at)
    assert at.selectbox(key="slide_pos").options == [s1, s2]
    assert any(b.label == f"Download {md(s1)} as QuPath GeoJSON" for b in at.get("download_button"))
    at.selectbox(key="slide_pos").set_value(1).run()
    assert not at.exception, [e.value for e in at.exception]
    second = _viewer_args(at)
    assert second["slide"] != first["slide"] and len(second["layers"]) == len(first["layers"])
    assert {a["url"] for a in second["layers"]}.isdisjoint(a["url"] for a in first["layers"])
    assert any(b.label == f"Download {md(s2)} as QuPath GeoJSON" for b in at.get("download_button"))
