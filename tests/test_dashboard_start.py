"""How the dashboard starts: what Home imports, and every page while the demo is still being built."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests._demo_files import demo_hashes
from tests.e2e.demo_env import PROFILE, env, tiny_demo

REPO = Path(__file__).resolve().parents[1]
HOME = str(REPO / "dashboard" / "Home.py")
HEAVY = ("torch", "lifelines", "sksurv", "sklearn", "plotly")

_PROBE = """
import json, sys
import streamlit
from memamba_core.data import load_cohort
load_cohort({cohort!r}).summary()
library = [m for m in {heavy!r} if m in sys.modules]
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({home!r}, default_timeout=300).run()
print(json.dumps({{"library": library, "home": [m for m in {heavy!r} if m in sys.modules],
                   "exceptions": [e.value for e in at.exception], "metrics": {{m.label: m.value for m in at.metric}}}}))
"""


def test_home_renders_without_torch_or_survival_libraries(demo_root):
    """Home draws the cohort summary, the model card and the run's metrics from files; the model, lifelines and
    scikit-survival load when a page needs them. Home may import nothing heavy beyond Streamlit's own imports and
    what loading a cohort costs (``library``: measured first, in the same process)."""
    environ = {**os.environ, **env(demo_root)}
    code = _PROBE.format(home=HOME, heavy=HEAVY, cohort=tiny_demo(demo_root)[0])
    out = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True, cwd=REPO)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert not got["exceptions"], got["exceptions"]
    assert got["metrics"]["Patients"] == "12" and "Run: mean C-index" in got["metrics"]
    extra = set(got["home"]) - set(got["library"])
    assert not extra, f"Home imports {extra}, which neither Streamlit nor loading a cohort needs"
    assert "torch" not in got["library"]  # loading a cohort's tables imports no torch (data/ imports it lazily)
    assert "torch" not in got["home"]


@pytest.fixture()
def half_built(demo_root, tmp_path, monkeypatch):
    """A cache whose tiny demo is half built (as a builder leaves it mid-way), its status record saying "building"."""
    from memamba_core.demo import demo_dir, demo_spec
    from memamba_core.demo.slide_job import slide_files

    cohort, _ = tiny_demo(demo_root)
    for k, v in {**env(demo_root), "MEMAMBA_CACHE": str(tmp_path)}.items():
        monkeypatch.setenv(k, v)
    root = demo_dir(PROFILE)
    shutil.copytree(cohort, root)
    (root / ".complete.json").unlink()
    sids = sorted(p.stem for p in (root / "slides").glob("*.tif"))
    for sid in sids[len(sids) // 2:]:
        for f in slide_files(root, sid):
            f.unlink()
    record = {"profile": PROFILE, "state": "building", "cohort": str(root), "fraction": 0.5, "message": "slide 6/12",
              "tables": True, "slides_done": len(sids) // 2, "n_slides": len(sids), "started": 1.0, "updated": 2.0,
              "spec": demo_spec(PROFILE)}
    (tmp_path / f".demo-{PROFILE}.status.json").write_text(json.dumps(record))
    return root


@pytest.fixture()
def no_stray_builder():
    """Builders a test started are stopped when it ends (they run in their own session)."""
    from memamba_core.demo import background

    yield
    for child in list(background._CHILDREN.values()):
        if child.poll() is None:
            os.killpg(child.pid, 15)
            child.wait(30)


@contextlib.contextmanager
def builder_alive(cache: Path):
    """Hold the builder's lock, as a live builder process does."""
    with open(cache / f".demo-{PROFILE}.builder.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _page(page: str | None) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=300)
    if page:
        at.switch_page(f"app_pages/{page}")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_pages_while_the_demo_is_being_built(half_built, tmp_path):
    with builder_alive(tmp_path):
        home = _page(None)
        assert any("Preparing the demo" in m.value for m in home.markdown)
        assert home.get("progress") and "slide 6/12" in home.get("progress")[0].proto.text
        assert next(m.value for m in home.metric if m.label == "Patients") == "12"  # the shipped tables: every patient
        card = next(t.value for t in home.table if "fits this cohort" in t.value.index)["value"]
        assert card["fits this cohort"].startswith("not checked yet")

        km = _page("1_Cohort_survival.py")  # the run's out-of-fold predictions + the cohort's clinical columns
        assert km.radio(key="km_source").options == ["Cross-validated (out-of-fold)"]
        assert not km.error and any("Per group" in s.value for s in km.subheader)

        for page in ("2_Patient.py", "3_Transport_map.py", "4_Ablations.py", "5_Train_evaluate.py"):
            at = _page(page)
            assert any("being built in the background" in i.value for i in at.info), page
            assert at.get("progress"), page
            assert not at.error, (page, [e.value for e in at.error])


@pytest.mark.slow
def test_a_build_that_died_says_so_and_resumes_on_retry(half_built, tmp_path, demo_root, no_stray_builder):
    """No builder holds the lock: the record's "building" is a dead build. Every page says so (with the log) and
    "Try again" starts a builder that finishes the folder: byte-identical to a build in one process."""
    from memamba_core.demo import build_status

    (tmp_path / f".demo-{PROFILE}.build.log").write_text("Traceback …\nMemoryError: painting slide 7\n")
    for page in (None, "2_Patient.py"):
        at = _page(page)
        assert at.error and "ended before finishing" in at.error[0].value
        assert any("MemoryError" in c.value for c in at.code)
    at.button(key="demo_retry").click().run()
    end = time.time() + 300
    while (s := build_status(PROFILE, need_model=False)).state == "building" and time.time() < end:
        time.sleep(0.5)
    assert s.state == "ready", (s.state, s.error, s.log)
    assert demo_hashes(half_built) == demo_hashes(Path(tiny_demo(demo_root)[0]))
    home = _page(None)
    assert not home.get("progress") and not home.error

