"""Bad slide files on the slide pages: a message for that slide, every other slide and patient still works.

A copy of the tiny demo cohort whose first three slides are damaged: a
truncated TIFF, a text file named ``.tif``, and a symlink that leaves the
cohort. The library refuses each with an InputError (``open_slide`` /
``cohort_slide_file``); the Patient and Transport pages show it for that slide
and go on — a good patient visited afterwards in the same session still gets
its heatmap (the damage is not cached for others).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from memamba_core.errors import InputError
from tests.e2e.demo_env import tiny_demo

HOME = str(Path(__file__).resolve().parents[1] / "dashboard" / "Home.py")
BAD = {"DEMO-0001": "truncated", "DEMO-0002": "text", "DEMO-0003": "outside"}
GOOD = "DEMO-0004"


@pytest.fixture(scope="module")
def damaged(demo_root, tmp_path_factory) -> Path:
    src = Path(tiny_demo(demo_root)[0])
    base = tmp_path_factory.mktemp("bad_slides")
    dst = base / "cohort"
    shutil.copytree(src, dst)
    slides = dst / "slides"
    (slides / "DEMO-0001-01Z-00-DX1.tif").write_bytes((src / "slides" / "DEMO-0001-01Z-00-DX1.tif").read_bytes()[:5000])
    (slides / "DEMO-0002-01Z-00-DX1.tif").write_text("this is not a slide\n")
    outside = base / "outside.tif"
    shutil.copy(src / "slides" / "DEMO-0003-01Z-00-DX1.tif", outside)
    (slides / "DEMO-0003-01Z-00-DX1.tif").unlink()
    (slides / "DEMO-0003-01Z-00-DX1.tif").symlink_to(outside)
    return dst


def test_the_library_refuses_each_bad_slide_with_input_error(damaged):
    from memamba_core.data import load_cohort
    from memamba_core.slides import open_cohort_slide

    cohort = load_cohort(damaged)
    for case in BAD:
        with pytest.raises(InputError) as err:
            open_cohort_slide(cohort, f"{case}-01Z-00-DX1")
        assert f"{case}-01Z-00-DX1" in str(err.value)
    assert open_cohort_slide(cohort, f"{GOOD}-01Z-00-DX1") is not None


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.slow
@pytest.mark.parametrize("page,heat", [("2_Patient.py", "heatmap"), ("3_Transport_map.py", "tm_slide_map")])
def test_slide_pages_explain_a_bad_slide_and_keep_the_others(app_env, damaged, page, heat):
    at = AppTest.from_file(HOME, default_timeout=300)
    at.session_state["cohort_source"] = str(damaged)
    at.switch_page(f"app_pages/{page}")
    _ok(at.run())
    charts = lambda: [c.proto.id for c in at.get("plotly_chart")]  # noqa: E731
    for case in BAD:
        _ok(at.selectbox(key="_w_case_id").set_value(case).run())
        msgs = [w.value for w in at.warning]
        assert any(f"{case}-01Z-00-DX1" in m.replace("\\", "") for m in msgs), (case, msgs)
        assert not any(heat in c for c in charts()), case
    _ok(at.selectbox(key="_w_case_id").set_value(GOOD).run())
    assert not at.warning, [w.value for w in at.warning]
    assert any(heat in c for c in charts()), charts()
