"""Issue 14: one patient whose bag cannot be read is left out of the dashboard's predictions with a warning
naming them; the Cohort and Patient pages keep working for everyone else (AppTest on the tiny demo)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from memamba_core.data import load_cohort
from memamba_core.train.predict import skipped_note
from tests.e2e.demo_env import tiny_demo

HOME = str(Path(__file__).resolve().parents[1] / "dashboard" / "Home.py")


@pytest.fixture(scope="module")
def broken_cohort(demo_root, tmp_path_factory):
    """A copy of the tiny demo (files hard-linked, not copied) whose first patient's feature files are damaged
    (unlinked first: the demo's own files stay intact): (cohort folder, that patient's case id)."""
    src = Path(tiny_demo(demo_root)[0])
    dst = tmp_path_factory.mktemp("broken") / "cohort"
    shutil.copytree(src, dst, copy_function=os.link)
    c = load_cohort(dst)
    case = c.case_ids()[0]
    for files in c.slide_files(case):
        for p in (files.h5, files.pt):
            if p is not None and Path(p).is_file():
                Path(p).unlink()
                Path(p).write_bytes(b"truncated")
    return str(dst), case


def _page(page: str, cohort: str, **session) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=180)
    at.session_state["cohort_source"] = cohort
    for k, v in session.items():
        at.session_state[k] = v
    at.switch_page(f"app_pages/{page}")
    return at.run()


def test_patient_page_warns_and_leaves_the_patient_out(app_env, broken_cohort):
    cohort, case = broken_cohort
    at = _page("2_Patient.py", cohort)
    assert not at.exception, [e.value for e in at.exception]
    assert any(case in w.value and "left out" in w.value for w in at.warning), [w.value for w in at.warning]
    ids = at.selectbox(key="_w_case_id").options
    assert case not in ids and len(ids) > 1
    assert not at.error, [e.value for e in at.error]


def test_cohort_page_fold_predictions_warn(app_env, broken_cohort):
    cohort, case = broken_cohort
    at = _page("1_Cohort_survival.py", cohort)
    at.radio(key="km_source").set_value("Loaded fold model").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(case in w.value and "left out" in w.value for w in at.warning), [w.value for w in at.warning]


def test_skipped_note_text():
    import pandas as pd

    df = pd.DataFrame({"case_id": ["a"]})
    assert skipped_note(df) is None
    df.attrs["skipped"] = {f"P{i}": "x.pt: truncated" for i in range(12)}
    note = skipped_note(df, limit=3)
    assert note.startswith("12 patient(s) left out") and "P2: x.pt: truncated" in note and "and 9 more" in note
