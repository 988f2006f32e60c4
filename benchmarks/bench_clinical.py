"""The clinician's path, timed (issue 15's targets): the Patient page warm with everything drawn, and the PDF report.

* ``patient_page_warm_s``: in a real browser (headless Debian chromium + Playwright, the app started with
  ``streamlit run``), Model quality → Patient through the sidebar, timed from the click until every chart the
  page draws for that patient is drawn (the count is read from the page after its first visit: survival curve,
  the drivers' gene-group and gene bars, expert weights, genomic attention, …) and the app is idle; the median of
  ``--repeats`` switches (goal ≤ 2 s);
* ``pdf_one_patient_s``: :func:`memamba_core.app.patient_report_pdf` in-process with the run's models, cohort and
  calibration loaded (what the page's download button runs), median over ``--patients`` patients (goal ≤ 2 s);
* ``cli_one_patient_s`` / ``cli_cohort_s``: ``memamba report RUN COHORT --out … [--patient ID]`` as a command
  (imports, loading, five fold models, scoring, attribution, slide); the cohort PDF's page count and size.

Run from the repository root, with the full demo built in the cache (``python -m memamba_core.demo --profile full``)::

    python -m benchmarks.bench_clinical                  # shipped demo run, usual cache
    python -m benchmarks.bench_clinical --skip-cohort    # without the whole-cohort PDF (about 2 minutes)

Writes ``benchmarks/results/clinical.json`` (with the load average before and after: timings on a busy machine
are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memamba_core.paths import atomic_write_text, cache_dir
from tests.e2e import driver

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
GOALS_S = {"patient_page_warm": 2.0, "pdf_one_patient": 2.0}
DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                 .filter(c => c.querySelector('.main-svg')).length"""


def _visit(page, name: str, text: str, charts: int) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=name).first.click()
    driver.wait_text(page, text, 240)
    driver.wait_charts(page, charts, 240)


def browser_page(env: dict, repeats: int) -> dict:
    out: dict = {}
    with driver.Server(env) as srv, driver.browser() as page:
        srv.wait_healthy(120)
        page.goto(srv.url)
        driver.wait_text(page, "fits this cohort", 240)
        driver.wait_idle(page, 240)
        t = time.perf_counter()
        _visit(page, "Patient", "did not train on this patient", 1)
        driver.wait_text(page, "What drives this patient's risk", 240)
        time.sleep(2.0)  # let every chart of the first visit draw, then count them
        driver.wait_idle(page, 240)
        out["first_visit_s"] = time.perf_counter() - t
        out["charts_drawn"] = page.evaluate(DRAWN)
        loads = []
        for _ in range(repeats):
            _visit(page, "Model quality", "Kaplan", 1)
            t = time.perf_counter()
            _visit(page, "Patient", "did not train on this patient", out["charts_drawn"])
            loads.append(time.perf_counter() - t)
        driver.assert_no_exception(page)
    out["patient_page_warm_all_s"] = loads
    out["patient_page_warm_s"] = statistics.median(loads)
    return out


def pdf_in_process(run: str, cohort_dir: str, n: int) -> dict:
    import torch

    from memamba_core.app import patient_report_pdf, run_calibration
    from memamba_core.data import load_cohort
    from memamba_core.train.scoring import RunModels

    torch.set_num_threads(1)
    maps, why = run_calibration(run)
    if not maps:
        raise SystemExit(f"{run}: {why}")
    models, cohort = RunModels.load(run), load_cohort(cohort_dir)
    ids = cohort.case_ids()
    patient_report_pdf(models, cohort, maps, ids[0])  # imports, fonts: not part of a click
    times = []
    for cid in ids[1:1 + n]:
        t = time.perf_counter()
        pdf = patient_report_pdf(models, cohort, maps, cid)
        times.append(time.perf_counter() - t)
        assert pdf.startswith(b"%PDF-")
    return {"pdf_one_patient_all_s": times, "pdf_one_patient_s": statistics.median(times)}


def cli(run: str, cohort_dir: str, out_dir: Path, patient: str | None) -> dict:
    out = out_dir / ("one.pdf" if patient else "cohort.pdf")
    cmd = [sys.executable, "-m", "memamba_core.cli", "report", run, cohort_dir, "--out", str(out), "--num-threads", "1"]
    cmd += ["--patient", patient] if patient else []
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
    took = time.perf_counter() - t
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout
    pages = next((int(x.split()[-1]) for x in info.splitlines() if x.startswith("Pages:")), None)
    return {"s": took, "pages": pages, "bytes": out.stat().st_size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "assets" / "demo-model-full"), help="run folder (default: shipped demo run)")
    ap.add_argument("--cohort", default=None, help="cohort folder (default: the full demo in the cache)")
    ap.add_argument("--repeats", type=int, default=5, help="Patient page switches for the median (default 5)")
    ap.add_argument("--patients", type=int, default=7, help="patients for the in-process PDF median (default 7)")
    ap.add_argument("--skip-cohort", action="store_true", help="skip the whole-cohort PDF from the CLI")
    a = ap.parse_args()
    if driver.chromium_path() is None:
        raise SystemExit("Debian chromium is needed (/usr/bin/chromium): apt-get install chromium")
    cohort_dir = a.cohort or str(cache_dir() / "demo-full")
    if not Path(cohort_dir, "labels.csv").is_file():
        raise SystemExit(f"{cohort_dir}: no cohort there; build the demo first: python -m memamba_core.demo --profile full")
    env = {"MEMAMBA_CACHE": str(cache_dir()), "MEMAMBA_DEMO_PROFILE": "full", "MEMAMBA_DEFAULT_MODEL": a.model,
           "MEMAMBA_THREADS": "1"}
    out: dict = {"model": a.model, "cohort": cohort_dir, "machine": platform.platform(), "cpus": os.cpu_count(),
                 "loadavg_before": os.getloadavg(), "goals_s": GOALS_S}
    out.update(browser_page(env, a.repeats))
    out.update(pdf_in_process(a.model, cohort_dir, a.patients))
    with tempfile.TemporaryDirectory(prefix="memamba-bench-report-") as tmp:
        out["cli_one_patient"] = cli(a.model, cohort_dir, Path(tmp), _first_patient(cohort_dir))
        if not a.skip_cohort:
            out["cli_cohort"] = cli(a.model, cohort_dir, Path(tmp), None)
    out["meets_goal"] = {k: out[f"{k}_s"] <= v for k, v in GOALS_S.items()}
    out["loadavg_after"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / "clinical.json", json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


def _first_patient(cohort_dir: str) -> str:
    from memamba_core.data import load_cohort

    return load_cohort(cohort_dir).case_ids()[0]


if __name__ == "__main__":
    main()
