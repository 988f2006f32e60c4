"""The real dashboard in headless Debian chromium (Playwright): every page, a patient, a patch click, an ablation, model quality.

Skips when chromium is missing, except under CI=true, where it fails (CI installs it).
Screenshots go to the test's temp folder (the benchmark keeps its own under benchmarks/results/).
"""


import pytest

from tests.e2e import driver
from tests.e2e.demo_env import env

pytestmark = pytest.mark.e2e

driver.require_chromium()


@pytest.fixture(scope="module")
def server(demo_root):
    with driver.Server(env(demo_root)) as srv:
        srv.wait_healthy()
        yield srv


def test_every_page_patient_patch_and_ablation(server, tmp_path):
    shots = []

    def shot(name):
        driver.assert_no_exception(page)
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    with driver.browser() as page:
        page.goto(server.url)
        driver.wait_text(page, "fits this cohort")
        driver.wait_text(page, "Run: mean C-index")
        driver.wait_idle(page)
        shot("home")
        page.get_by_role("button", name="Load the model now").click()
        driver.wait_text(page, "scan backend")
        driver.wait_idle(page)

        driver.goto_page(page, "Cohort survival")
        driver.wait_text(page, "Per group")
        driver.wait_charts(page, 1)
        shot("cohort_survival")

        driver.goto_page(page, "Patient")
        driver.wait_text(page, "Top ")
        driver.wait_idle(page)
        box = page.locator('[data-testid="stSelectbox"]', has_text="Patient").first
        box.locator("input").click()
        opts = page.get_by_role("option")
        assert opts.count() > 1
        second = opts.nth(1).inner_text().strip()
        opts.nth(1).click()
        driver.wait_idle(page)
        driver.wait_text(page, f"Patient {second}")
        driver.wait_charts(page, 4)
        driver.wait_text(page, "Top ")
        shot("patient")

        driver.click_slide_patch(page)
        driver.wait_text(page, "at level 0")
        driver.wait_idle(page)
        shot("patient_patch")

        driver.goto_page(page, "Transport map")
        driver.wait_text(page, "Patch mass per genomic group")
        driver.wait_charts(page, 3)
        shot("transport_map")

        driver.goto_page(page, "Ablations")
        driver.wait_text(page, "nothing (full model)")
        driver.wait_idle(page)
        driver.toggle(page, "Reverse scan")
        driver.wait_text(page, "scan_reverse → False")
        driver.wait_charts(page, 1)
        shot("ablations")

        driver.goto_page(page, "Model quality")
        driver.wait_text(page, "Calibration by risk quintile")
        driver.wait_charts(page, 5)  # calibration, IBS, AUC(t), IBS gain with its interval, C-index
        driver.wait_text(page, "cannot tell them apart")
        shot("model_quality")

        driver.goto_page(page, "Train / evaluate")
        driver.wait_text(page, "New cross-validated run")
        driver.wait_idle(page)
        shot("train_evaluate")

    assert all(p.stat().st_size > 10_000 for p in shots)


def test_first_start_builds_in_the_background_and_pages_open_when_ready(demo_root, tmp_path):
    """An empty cache: Home answers at once with the build's progress; the Patient page waits with a live
    progress bar and draws itself when the last slide is built (no reload, no traceback)."""
    cache = tmp_path / "fresh-cache"
    cache.mkdir()
    with driver.Server({**env(demo_root), "MEMAMBA_CACHE": str(cache)}) as srv, driver.browser() as page:
        srv.wait_healthy()
        page.goto(srv.url)
        driver.wait_text(page, "Preparing the demo")
        driver.wait_text(page, "Patients", timeout=120)  # the shipped tables: the cohort summary before the slides
        driver.assert_no_exception(page)
        driver.goto_page(page, "Patient")
        driver.wait_text(page, "being built in the background")
        page.locator('[data-testid="stProgress"]').first.wait_for(state="visible")
        driver.wait_text(page, "Top ", timeout=400)
        driver.wait_idle(page, 120)
        driver.assert_no_exception(page)
        page.screenshot(path=str(tmp_path / "first_start_patient.png"), full_page=True)


@pytest.mark.slow
def test_shipped_demo_shows_its_ablation_table_in_the_browser(tmp_path):
    """The demo as a fresh machine gets it (the full demo cohort, the shipped checkpoint copied into the cache):
    the Ablations page finds the shipped cross-validated table through the run-folder owner and draws it."""
    from memamba_core.demo import ensure_demo
    from memamba_core.paths import cache_dir
    from memamba_core.train.demo_model import ensure_demo_model

    ensure_demo("full")
    ensure_demo_model("full")
    env = {"MEMAMBA_CACHE": str(cache_dir()), "MEMAMBA_THREADS": "1"}
    with driver.Server(env) as srv, driver.browser() as page:
        srv.wait_healthy()
        page.goto(srv.url)
        driver.wait_text(page, "fits this cohort", timeout=300)
        driver.goto_page(page, "Ablations")
        driver.wait_text(page, "Cross-validated ablation runs", timeout=300)
        driver.wait_text(page, "Each row: the model retrained under the same cross-validation", timeout=120)
        grid = page.locator('[data-testid="stDataFrame"]')
        grid.first.wait_for(state="visible", timeout=60_000)
        assert grid.count() == 1
        assert page.get_by_text("has no cross-validated ablation table").count() == 0
        driver.assert_no_exception(page)
        page.screenshot(path=str(tmp_path / "shipped_ablations.png"), full_page=True)
    assert (tmp_path / "shipped_ablations.png").stat().st_size > 10_000
