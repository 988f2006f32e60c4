"""The demo cohort: data contract, real slides in both readers, truth alignment, determinism, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from memamba_core.data import load_cohort
from memamba_core.demo import CLASSES, HIGH_GRADE, TUMOUR, DemoProfile, demo_dir, ensure_demo, get_profile, is_complete
from memamba_core.errors import InputError
from memamba_core.features import builtin_encoder, extract_slide
from memamba_core.slides import available_backends, open_slide, read_clam_h5
from tests.e2e.demo_env import cache_env, tiny_demo

MICRO = DemoProfile(name="micro", n_patients=4, width=(1024, 1280), height=(1024, 1024), n_folds=2,
                    workers=1, texture_size=256)


@pytest.fixture(scope="module")
def tiny(demo_root):
    """The session's tiny demo (tests/conftest.py: built once in pytest's temp folder, shared with the dashboard tests)."""
    return Path(tiny_demo(demo_root)[0])


def test_tiny_loads_through_the_data_contract(tiny):
    c = load_cohort(tiny)
    p = get_profile("tiny")
    assert len(c.patients) == p.n_patients and c.issues == []
    assert set(c.clinical_frame()["oncotree_code"]) == {"BLCA", "LUAD"}
    assert c.groups is not None and len(c.groups.names) == 10 and "HYPOXIA" in c.groups.names
    assert sum(len(cols) for cols in c.groups.columns) >= 200
    assert c.feature_dim() == 256 and len(c.splits) == p.n_folds
    ev = c.clinical_frame()["censorship"].mean()
    assert 0.4 <= ev <= 0.6
    for pt in c.patients:
        bag = c.load_bag(pt.case_id)
        assert bag is not None and bag.features.shape[0] >= 5 and bag.patch_size == 256 and bag.patch_level == 0
        assert c.slide_path(pt.slide_ids[0]) is not None
    # the families file is there too, in MCAT's layout
    sig = pd.read_csv(tiny / "signatures.csv")
    assert len(sig.columns) == 6 and "Oncogenes" in sig.columns


def test_slides_open_in_both_readers_with_same_geometry(tiny):
    for path in sorted((tiny / "slides").glob("*.tif"))[:3]:
        geo = []
        for b in available_backends():
            with open_slide(path, backend=b) as s:
                assert s.level_count >= 3 and s.mpp == pytest.approx((0.5, 0.5))
                geo.append((s.level_dimensions, s.mpp))
        assert all(g == geo[0] for g in geo)


def test_truth_is_aligned_with_patches(tiny):
    truth = pd.read_csv(tiny / "truth" / "patients.csv")
    assert {"case_id", "slide_id", "log_hazard", "tumour_fraction", "high_grade_fraction", "activity_HYPOXIA"} <= set(truth.columns)
    model = json.loads((tiny / "truth" / "model.json").read_text())
    assert model["classes"] == list(CLASSES) and model["risk_driving_class"] == "high_grade" == CLASSES[HIGH_GRADE]
    for r in truth.itertuples():
        _, coords, _ = read_clam_h5(tiny / "h5_files" / f"{r.slide_id}.h5")
        cls = np.load(tiny / "truth" / "patch_classes" / f"{r.slide_id}.npy")
        frac = np.load(tiny / "truth" / "patch_fractions" / f"{r.slide_id}.npy")
        assert cls.shape == (len(coords),) and frac.shape == (len(coords), len(CLASSES))
        assert (cls > 0).all() and (frac[:, 0] < 0.75).all()  # every patch is on tissue by the truth too
        assert r.tumour_fraction == pytest.approx(np.mean(cls == TUMOUR))
        assert r.high_grade_fraction == pytest.approx(np.mean(cls == HIGH_GRADE))
        if r.high_grade_target == 0:
            assert r.high_grade_fraction == 0  # no high-grade component: none painted
    # some patients have a high-grade component and some do not (the risk-driving tissue must be found)
    assert (truth.high_grade_fraction > 0).any() and (truth.high_grade_fraction == 0).any()


def test_log_hazard_follows_the_saved_model(tiny):
    """The saved log-hazard is the saved model applied to the saved truth (high-grade fraction, pathways, type, age)."""
    truth = pd.read_csv(tiny / "truth" / "patients.csv")
    hz = json.loads((tiny / "truth" / "model.json").read_text())["hazard"]
    z = lambda v: (v - v.mean()) / (v.std(ddof=0) + 1e-12)  # noqa: E731
    types = (truth.oncotree_code == "LUAD").astype(float)
    eta = hz["high_grade_fraction_per_sd"] * z(truth.high_grade_fraction) + hz["tumour_fraction_per_sd"] * z(truth.tumour_fraction)
    eta = eta + hz["cancer_type"] * types + hz["age_per_sd"] * z(truth.age.astype(float))
    for name, b in hz["pathways_per_sd"].items():
        eta = eta + b * truth[f"activity_{name}"]
    assert np.allclose(eta, truth.log_hazard, atol=1e-9)
    assert hz["high_grade_fraction_per_sd"] > 0


def test_features_are_the_pipeline_on_the_pixels(tiny):
    """Re-extracting a demo slide gives its stored features (same seed, same pixels → same features)."""
    sid = sorted(p.stem for p in (tiny / "slides").glob("*.tif"))[0]
    stored = torch.load(tiny / "pt_files" / f"{sid}.pt", weights_only=True)
    _, coords, _ = read_clam_h5(tiny / "h5_files" / f"{sid}.h5")
    with open_slide(tiny / "slides" / f"{sid}.tif") as s:
        feats, grid = extract_slide(s, builtin_encoder())
    assert np.array_equal(grid.coords, coords)
    assert np.allclose(feats, stored.numpy(), atol=1e-5)


@pytest.mark.parametrize("cls", [TUMOUR, HIGH_GRADE])
def test_tumour_patches_are_separable_in_feature_space(tiny, cls):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = [], []
    for pt in sorted((tiny / "pt_files").glob("*.pt")):
        X.append(torch.load(pt, weights_only=True).numpy())
        y.append(np.load(tiny / "truth" / "patch_classes" / f"{pt.stem}.npy") == cls)
    X, y = np.concatenate(X), np.concatenate(y)
    assert 0.01 < y.mean() < 0.8
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    p = cross_val_predict(clf, X, y, cv=3, method="predict_proba")[:, 1]
    assert roc_auc_score(y, p) > 0.95


def test_reused_not_rebuilt(tiny, demo_root):
    marker = tiny / ".complete.json"
    before = marker.stat().st_mtime_ns
    with cache_env(demo_root):
        assert ensure_demo("tiny") == tiny
    assert marker.stat().st_mtime_ns == before and is_complete(tiny, "tiny")


@pytest.mark.slow
def test_same_seed_same_cohort_and_resume(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMAMBA_CACHE", str(tmp_path / "a"))
    seen = []
    a = ensure_demo(MICRO, progress=lambda f, m: seen.append(f))
    assert a == demo_dir(MICRO) and seen[-1] == 1.0 and seen == sorted(seen)
    assert not (a / ".build").exists()
    monkeypatch.setenv("MEMAMBA_CACHE", str(tmp_path / "b"))
    b = ensure_demo(MICRO)
    for rel in ["labels.csv", "pathways.csv", "truth/patients.csv", "splits/splits_0.csv"]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    for pt in (a / "pt_files").glob("*.pt"):
        assert torch.equal(torch.load(pt, weights_only=True), torch.load(b / "pt_files" / pt.name, weights_only=True))
    # an interrupted build (no completion marker, one slide half-done) is resumed, not trusted
    sid = sorted(p.stem for p in (b / "slides").glob("*.tif"))[1]
    kept = (b / "slides" / sorted(p.name for p in (b / "slides").glob("*.tif"))[0]).stat().st_mtime_ns
    (b / ".complete.json").unlink()
    (b / "truth" / "patch_classes" / f"{sid}.npy").unlink()
    (b / "labels.csv").unlink()
    assert not is_complete(b, MICRO)
    ensure_demo(MICRO)
    assert is_complete(b, MICRO) and (b / "labels.csv").read_bytes() == (a / "labels.csv").read_bytes()
    assert (b / "truth" / "patch_classes" / f"{sid}.npy").is_file()
    assert (b / "slides" / sorted(p.name for p in (b / "slides").glob("*.tif"))[0]).stat().st_mtime_ns == kept
    # a half-built folder from another generator spec is deleted and rebuilt
    (b / ".complete.json").unlink()
    (b / ".build.json").write_text('{"version": -1}')
    (b / "stale.txt").write_text("left over")
    ensure_demo(MICRO)
    assert is_complete(b, MICRO) and not (b / "stale.txt").exists()


@pytest.mark.slow
def test_parallel_build_gives_the_sequential_bytes(tmp_path):
    """Slides built in two worker processes (a fresh single-threaded process, as the background builder is): every
    file byte-identical to a build in one process."""
    import subprocess
    import sys

    from memamba_core.demo import build_demo
    from tests._demo_files import demo_hashes

    build_demo(tmp_path / "one", MICRO, workers=1)
    code = ("from memamba_core.demo import DemoProfile, build_demo;"
            f"build_demo({str(tmp_path / 'two')!r}, DemoProfile(**{MICRO.to_dict()!r}), workers=2,"
            " progress=lambda f, m: print(m, flush=True))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "4 slides with 2 process(es)" in out
    assert demo_hashes(tmp_path / "one") == demo_hashes(tmp_path / "two")


def test_patient_with_features_but_no_slide_stays_usable(tiny, tmp_path):
    copy = tmp_path / "cohort"
    shutil.copytree(tiny, copy, ignore=shutil.ignore_patterns("*.tif"))
    c = load_cohort(copy)
    pt = c.patients[0]
    assert c.slide_path(pt.slide_ids[0]) is None
    assert c.has_pathology(pt.case_id) and c.load_bag(pt.case_id).features.shape[1] == 256


def test_unknown_profile():
    with pytest.raises(InputError, match="unknown demo profile 'huge'"):
        ensure_demo("huge")


def test_build_inside_a_server_thread_runs_in_process(tmp_path):
    """The dashboard builds the demo from a server thread: worker processes must not be used there
    (spawn would re-run the server's main script, which waits for this very build: a deadlock)."""
    import threading

    from memamba_core.demo import build_demo

    messages, errors = [], []

    def job():
        try:
            build_demo(tmp_path / "demo-micro", MICRO, progress=lambda f, m: messages.append(m), workers=2)
        except Exception as err:  # reported below, in the test's own thread
            errors.append(err)

    t = threading.Thread(target=job)
    t.start()
    t.join(timeout=300)
    assert not t.is_alive(), "the demo build did not finish from a non-main thread"
    assert not errors, errors
    assert any("with 1 process(es)" in m for m in messages), messages
    assert is_complete(tmp_path / "demo-micro", MICRO)
