"""The report is a real PDF: rendered to PNG with pdftoppm, its text read with pdftotext (Debian poppler-utils)."""

import shutil
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

from memamba_core.errors import InputError
from memamba_core.report import ReportPage, report_pdf, write_cohort_report, write_report_pdf
from memamba_core.survival.km import km_curve
from memamba_core.train.scoring import RunModels, calibrate_run
from tests._train_cohort import one_thread, trained_run  # noqa: F401  (one_thread: autouse)
from tests.test_clinical_terms import make_map
from memamba_core.survival.clinical_terms import predict_one_model

POPPLER = shutil.which("pdftoppm") and shutil.which("pdftotext")
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftoppm, pdftotext) not installed: apt-get install poppler-utils")


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def pdf_pngs(path, out_prefix) -> list:
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(path), str(out_prefix)], capture_output=True, check=True)
    return sorted(out_prefix.parent.glob(out_prefix.name + "*.png"))


def page(case_id="DEMO-0001 $x$", with_images=True):
    rng = np.random.default_rng(0)
    cal = make_map()
    pred = predict_one_model(cal, 0.8, scored_by="Scored out-of-fold by the fold 2 model of run 'demo-run'.", fold=2, n_boot=50)
    t, e = rng.exponential(30, 100), rng.integers(0, 2, 100)
    img = Image.fromarray((rng.random((120, 160, 3)) * 255).astype(np.uint8))
    return ReportPage(case_id=case_id, cohort="demo", run="demo-run", model="memamba (out-of-fold, fold 2)", prediction=pred,
                      cohort_km=km_curve(t, e), slide=img if with_images else None, slide_caption="slide S1",
                      patches=[(img.crop((0, 0, 32, 32)), f"#{i + 1}") for i in range(8)] if with_images else [],
                      clinical={"age": 61, "is_female": 1}, calibration="the other folds' out-of-fold predictions")


@needs_poppler
def test_page_renders_and_reads_back(tmp_path):
    p = page()
    t0 = time.perf_counter()
    out = write_report_pdf(tmp_path / "report.pdf", [p])
    seconds = time.perf_counter() - t0
    assert out.read_bytes()[:5] == b"%PDF-"
    pngs = pdf_pngs(out, tmp_path / "page")
    assert len(pngs) == 1 and Image.open(pngs[0]).size[0] > 300
    text = pdf_text(out)
    for h in p.prediction.horizons:
        assert f"Survival at {h:g} months" in text
    assert f"Risk group" in text and p.prediction.risk_group in text
    assert "demo-run" in text and "RESEARCH USE ONLY" in text and "Research use only" in text
    assert "DEMO-0001 $x$" in text  # user text drawn literally, not as mathtext
    assert "out-of-fold" in text
    assert seconds < 10.0  # ≈ 0.5 s on an idle core, 2.5 s on the loaded 2-core dev machine


def test_refuses_output_inside_an_input_and_non_pdf(tmp_path):
    with pytest.raises(InputError, match="inside the input"):
        write_report_pdf(tmp_path / "cohort" / "r.pdf", [page(with_images=False)], inputs=[tmp_path / "cohort"])
    with pytest.raises(InputError, match="ending in .pdf"):
        write_report_pdf(tmp_path / "r.html", [page(with_images=False)])
    with pytest.raises(InputError, match="no patient"):
        report_pdf([])


@needs_poppler
def test_whole_cohort_writer(tmp_path_factory, tmp_path):
    cohort, run = trained_run(tmp_path_factory)
    models = RunModels.load(run)
    maps = calibrate_run(models, cohort, min_at_risk=3)
    ids = cohort.case_ids()[:3]
    out, skipped = write_cohort_report(models, cohort, maps, tmp_path / "cohort.pdf", case_ids=ids, horizons=[6], steps=4)
    assert skipped == []
    assert len(pdf_pngs(out, tmp_path / "p")) == 3
    text = pdf_text(out)
    assert text.count("Survival at 6 months") == 3 and run.name in text
    for cid in ids:
        assert f"Patient {cid}" in text
    assert "Leading gene groups" in text and "towards" in text
