"""Dashboard speed in a real browser (headless Debian chromium + Playwright), against a hello-world Streamlit app.

In one run, both apps started the same way (``python -m streamlit run``, headless, on a free port; the browser
launched beside it):

* ``home_interactive_s``: ``streamlit run`` → Home drawn (the project: cohort summary and model card) and idle;
* ``page_load_s``: median of switching between already-visited pages through the sidebar (the project:
  Cohort survival, Patient, Ablations, Transport map; hello-world: its two pages);
* ``ratios``: project / hello-world for both (issue 19 goals: Home ≤ 1.25×, page load ≤ 1.3×);
* the project's own figures: first visits, a new patient's heatmap, an ablation toggle.

With ``--first-start``, also from an empty cache folder: ``streamlit run`` → first usable Home (cohort summary
and model card drawn), → the demo fully built (the Patient page, which waits for it, draws itself).
Writes ``benchmarks/results/dashboard.json`` and screenshots ``benchmarks/results/dashboard_<page>.png``.

Run from the repository root::

    python -m benchmarks.bench_dashboard                        # full demo, built (and demo checkpoint) in the cache
    python -m benchmarks.bench_dashboard --first-start           # + a first start on an empty cache (minutes)
    python -m benchmarks.bench_dashboard --profile tiny --model <run folder> --cache <dir>   # a quick dry run

Timings on a shared or busy machine are noisy; the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from memamba_core.paths import atomic_write_text
from tests.e2e import driver

RESULTS = Path(__file__).resolve().parent / "results"
GOALS = {"home_interactive": 1.25, "page_load": 1.3}  # project / hello-world

HELLO_HOME = '''import streamlit as st

st.set_page_config(page_title="hello", layout="wide")
st.navigation([st.Page("one.py", title="Hello", default=True), st.Page("two.py", title="World")]).run()
'''
HELLO_PAGE = '''import streamlit as st

st.title("{title}")
st.write("A two-page hello-world Streamlit app, the benchmark's reference.")
'''


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _hello_app(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Home.py").write_text(HELLO_HOME)
    (folder / "one.py").write_text(HELLO_PAGE.format(title="Hello page one"))
    (folder / "two.py").write_text(HELLO_PAGE.format(title="World page two"))
    return folder / "Home.py"


def _visit(page, name: str, text: str, charts: int = 0, timeout: float = 180) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=name).first.click()
    driver.wait_text(page, text, timeout)
    driver.wait_charts(page, charts, timeout)


def hello_world(repeats: int) -> dict:
    """The reference: start → its Home drawn, and its median page switch."""
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="memamba-hello-") as tmp:
        script = _hello_app(Path(tmp))
        with driver.Server({"MEMAMBA_CACHE": tmp}, script=script) as srv, driver.browser() as page:
            srv.wait_healthy(120)
            page.goto(srv.url)
            driver.wait_text(page, "Hello page one", 120)
            driver.wait_idle(page, 120)
            out["home_interactive_s"] = time.perf_counter() - srv.started_at
            _visit(page, "World", "World page two")
            loads = [_timed(lambda n=n: _visit(page, *n)) for n in
                     [("Hello", "Hello page one"), ("World", "World page two")] * repeats]
            out["page_load_all_s"] = loads
            out["page_load_s"] = statistics.median(loads)
    return out


CHARTS = {"Cohort survival": 1, "Patient": 4, "Ablations": 1, "Transport map": 3, "Train / evaluate": 0}
MARK = {"Cohort survival": "Per group", "Patient": "Top ", "Ablations": "nothing (full model)",
        "Transport map": "Patch mass per genomic group", "Train / evaluate": "New cross-validated run"}


def project(env: dict, repeats: int) -> dict:
    """The dashboard, warm cache: start → Home, first visits, median page switch, patient and ablation updates."""
    out: dict = {}
    with driver.Server(env) as srv, driver.browser() as page:
        out["server_healthy_s"] = srv.wait_healthy(120)
        page.goto(srv.url)
        driver.wait_text(page, "fits this cohort", 180)
        driver.wait_idle(page, 180)
        out["home_interactive_s"] = time.perf_counter() - srv.started_at
        page.screenshot(path=str(RESULTS / "dashboard_home.png"))

        def visit(name):
            _visit(page, name, MARK[name], CHARTS[name])

        for name in ("Cohort survival", "Patient", "Ablations", "Transport map"):
            out[f"first_visit_{name.lower().replace(' ', '_')}_s"] = _timed(lambda n=name: visit(n))
            page.screenshot(path=str(RESULTS / f"dashboard_{name.lower().replace(' ', '_')}.png"))
        loads = [_timed(lambda n=n: visit(n)) for n in ["Cohort survival", "Patient", "Ablations", "Transport map"] * repeats]
        out["page_load_all_s"] = loads
        out["page_load_s"] = statistics.median(loads)

        visit("Patient")

        def pick_patient(i):
            page.locator('[data-testid="stSelectbox"]', has_text="Patient").first.locator("input").click()
            opt = page.get_by_role("option").nth(i)
            label = opt.inner_text().strip()
            opt.click()
            driver.wait_text(page, f"Patient {label} ", 180)
            driver.wait_charts(page, CHARTS["Patient"], 180)

        out["patient_heatmap_all_s"] = [_timed(lambda i=i: pick_patient(i)) for i in (1, 2)]
        out["patient_heatmap_s"] = statistics.median(out["patient_heatmap_all_s"])
        page.screenshot(path=str(RESULTS / "dashboard_patient.png"))
        driver.click_slide_patch(page)
        driver.wait_text(page, "at level 0", 180)
        driver.wait_idle(page, 180)
        page.screenshot(path=str(RESULTS / "dashboard_patient_patch.png"))
        visit("Ablations")

        def toggle(label, caption):
            driver.toggle(page, label)
            driver.wait_text(page, caption, 180)
            driver.wait_charts(page, CHARTS["Ablations"], 180)

        out["ablation_toggle_all_s"] = [_timed(lambda: toggle("Reverse scan", "scan_reverse → False")),
                                        _timed(lambda: toggle("Attention-ranked scan", "scan_ranked → False"))]
        out["ablation_toggle_s"] = statistics.median(out["ablation_toggle_all_s"])
        page.screenshot(path=str(RESULTS / "dashboard_ablations.png"))
        visit("Train / evaluate")
        page.screenshot(path=str(RESULTS / "dashboard_train_evaluate.png"))
        driver.assert_no_exception(page)
    return out


def first_start(env: dict, cache: Path) -> dict:
    """An empty cache: start → first usable Home; → the Patient page drawn once the demo is fully built."""
    out: dict = {"cache": str(cache)}
    with driver.Server({**env, "MEMAMBA_CACHE": str(cache)}) as srv, driver.browser() as page:
        srv.wait_healthy(120)
        page.goto(srv.url)
        driver.wait_text(page, "Preparing the demo", 180)
        driver.wait_text(page, "fits this cohort", 300)
        driver.wait_text(page, "Patients", 300)
        out["first_usable_home_s"] = time.perf_counter() - srv.started_at
        page.screenshot(path=str(RESULTS / "dashboard_first_start_home.png"))
        _visit(page, "Cohort survival", "Per group", 1, 300)
        out["first_cohort_survival_s"] = time.perf_counter() - srv.started_at
        _visit(page, "Patient", "being built in the background", 0, 300)
        driver.wait_text(page, "Top ", 1200)
        driver.wait_charts(page, CHARTS["Patient"], 300)
        out["demo_fully_built_s"] = time.perf_counter() - srv.started_at
        driver.assert_no_exception(page)
    status = json.loads((cache / f".demo-{env.get('MEMAMBA_DEMO_PROFILE', 'full')}.status.json").read_text())
    out["build_record"] = {k: status.get(k) for k in ("state", "started", "updated", "n_slides")}
    return out


def run(profile: str, model: str | None, cache: str | None, threads: int | None, repeats: int,
        warm: bool, first: bool, first_cache: str | None) -> dict:
    env = {"MEMAMBA_DEMO_PROFILE": profile}
    if cache:
        env["MEMAMBA_CACHE"] = cache
    if model:
        env["MEMAMBA_DEFAULT_MODEL"] = model
    if threads:
        env["MEMAMBA_THREADS"] = str(threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out: dict = {"profile": profile, "model": model or "demo checkpoint", "threads": threads, "repeats": repeats,
                 "machine": platform.platform(), "cpus": os.cpu_count(), "loadavg_before": os.getloadavg(),
                 "goals_ratio": GOALS}
    path = RESULTS / "dashboard.json"
    try:
        if warm:
            out["hello_world"] = hello_world(repeats)
            out["project"] = project(env, repeats)
            out["ratios"] = {k: out["project"][f"{k}_s"] / out["hello_world"][f"{k}_s"] for k in GOALS}
            out["meets_goal"] = {k: out["ratios"][k] <= v for k, v in GOALS.items()}
        if first:
            fresh = Path(first_cache or tempfile.mkdtemp(prefix="memamba-first-start-"))
            if any(fresh.iterdir()):
                raise SystemExit(f"--first-cache {fresh} is not empty: a first start needs an empty cache folder")
            out["first_start"] = first_start(env, fresh)
            out["first_start"]["goal_usable_home_s"] = 90
    except Exception as err:  # keep what was measured, and say where it stopped
        out["error"] = repr(err)[:2000]
        atomic_write_text(path, json.dumps(out, indent=2))
        raise
    out["loadavg_after"] = os.getloadavg()
    atomic_write_text(path, json.dumps(out, indent=2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="full", help="demo profile (default full)")
    ap.add_argument("--model", default=None, help="checkpoint/run folder instead of the demo checkpoint")
    ap.add_argument("--cache", default=None, help="MEMAMBA_CACHE holding the built demo (default: the usual cache)")
    ap.add_argument("--threads", type=int, default=None, help="cap torch CPU threads in the app (MEMAMBA_THREADS)")
    ap.add_argument("--repeats", type=int, default=3, help="page switches per page for the medians (default 3)")
    ap.add_argument("--first-start", action="store_true", help="also measure a first start on an empty cache")
    ap.add_argument("--first-cache", default=None, help="empty folder for --first-start (default: a new temp folder)")
    ap.add_argument("--skip-warm", action="store_true", help="only the first start (with --first-start)")
    a = ap.parse_args()
    if driver.chromium_path() is None:
        raise SystemExit("Debian chromium is needed (/usr/bin/chromium): apt-get install chromium")
    print(json.dumps(run(a.profile, a.model, a.cache, a.threads, a.repeats, not a.skip_warm, a.first_start,
                         a.first_cache), indent=2))


if __name__ == "__main__":
    main()
