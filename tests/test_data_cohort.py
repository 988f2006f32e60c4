"""Cohort loading end to end: the real TCGA-BLCA cohort and CLAM fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from memamba_core.data import Bag, Cohort, CohortSummary, load_cohort
from memamba_core.errors import InputError
from tests._cohort_fixtures import make_clam_cohort

BLCA = Path("/work/shared/data/tcga_blca")
needs_blca = pytest.mark.skipif(not BLCA.is_dir(), reason="real TCGA-BLCA cohort not available")


@pytest.fixture(scope="module")
def blca() -> Cohort:
    return load_cohort(BLCA)


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@needs_blca
def test_blca_acceptance_numbers(blca):
    s = blca.summary()
    assert s.n_patients == 373 == len(blca.patients) == len(set(blca.case_ids()))
    assert s.n_slides == 437
    assert blca.groups.sizes == (94, 334, 521, 468, 1496, 479)
    assert blca.groups.names == (
        "Tumor Suppressor Genes", "Oncogenes", "Protein Kinases", "Cell Differentiation Markers",
        "Transcription Factors", "Cytokines and Growth Factors",
    )
    assert round(100 * s.censored_fraction, 1) == 54.7
    assert s.n_events == sum(p.event for p in blca.patients) == 169
    assert s.token_sizes == (94, 334, 521, 468, 1496, 479)
    assert s.modalities == {"pathology": 0, "genomics": 373, "both": 0, "neither": 0}
    assert s.feature_dim is None and s.n_splits == 5


@needs_blca
def test_blca_pathology_missing_is_an_issue_not_an_error(blca):
    assert not any(blca.has_pathology(c) for c in blca.case_ids())
    assert all(blca.load_bag(c) is None for c in blca.case_ids()[:5])
    assert any("pathology missing" in i for i in blca.issues)
    assert blca.feature_dim() is None


@needs_blca
def test_blca_published_splits_honoured(blca):
    assert len(blca.splits) == 5
    for k, split in enumerate(blca.splits):
        raw = pd.read_csv(BLCA / f"splits_{k}.csv", dtype=str)
        assert set(split.train) == set(raw["train"].dropna()), k
        assert set(split.val) == set(raw["val"].dropna()), k
        assert not set(split.train) & set(split.val)
        assert len(split.train) + len(split.val) == 373


@needs_blca
def test_blca_clinical_frame_and_tokens(blca):
    cf = blca.clinical_frame()
    assert cf.index.name == "case_id" and len(cf) == 373
    for col in ("survival_months", "censorship", "event", "n_slides", "oncotree_code", "site", "age", "is_female"):
        assert col in cf.columns
    assert cf["n_slides"].sum() == 437
    assert (cf["event"] == (cf["censorship"] == 0)).all()
    split = blca.splits[0]
    scaler = blca.fit_scaler(split.train)
    tokens = blca.genomic_tokens(split.val[0], scaler)
    assert [t.shape[0] for t in tokens] == [94, 334, 521, 468, 1496, 479]
    assert all(t.dtype == torch.float32 and torch.isfinite(t).all() for t in tokens)
    train = blca.genomic_matrix(split.train, scaler)
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-4)


@needs_blca
def test_blca_summary_serialises(blca):
    s = blca.summary()
    d = json.loads(json.dumps(s.to_dict()))
    assert d["n_patients"] == 373 and d["token_sizes"] == [94, 334, 521, 468, 1496, 479]
    frame = s.to_frame()
    assert list(frame.columns) == ["item", "value"]
    assert "54.7 %" in frame["value"].tolist()
    assert "373" in str(s)


def test_clam_fixture_pt_and_h5_two_slides_aligned(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=5, feature_dim=12)
    cohort = load_cohort(root)
    assert cohort.feature_dim() == 12
    assert cohort.patient("CASE-000").slide_ids == ("CASE-000-DX1.svs", "CASE-000-DX2.svs")
    bag = cohort.load_bag("CASE-000")
    assert isinstance(bag, Bag)
    assert bag.features.dtype == torch.float32 and bag.features.shape == (4 + 5, 12)
    assert bag.coords.dtype == np.int64 and bag.coords.shape == (9, 2)
    assert bag.slide_index.tolist() == [0] * 4 + [1] * 5
    assert bag.slide_ids == ("CASE-000-DX1.svs", "CASE-000-DX2.svs")
    assert (bag.patch_size, bag.patch_level) == (256, 0)
    # row i of coords is the position of feature row i, across the concatenation
    np.testing.assert_array_equal(bag.features[:, 0].numpy(), bag.coords[:, 0])
    np.testing.assert_array_equal(bag.features[:, 1].numpy(), bag.coords[:, 1])
    assert len(np.unique(bag.coords, axis=0)) == 9
    for c in cohort.case_ids():
        b = cohort.load_bag(c)
        np.testing.assert_array_equal(b.features[:, 0].numpy(), b.coords[:, 0])


def test_pt_only_cohort_has_no_coords(tmp_path):
    root = make_clam_cohort(tmp_path, with_h5=False)
    cohort = load_cohort(root)
    bag = cohort.load_bag("CASE-000")
    assert bag.coords is None and bag.patch_size is None
    assert bag.features.shape == (9, 8) and bag.slide_index.tolist() == [0] * 4 + [1] * 5


def test_h5_preferred_over_pt(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=3)
    torch.save(torch.zeros(2, 8), root / "pt_files" / "CASE-001-DX1.pt")  # would differ from the h5
    bag = load_cohort(root).load_bag("CASE-001")
    assert bag.coords is not None and bag.features.shape[0] != 2


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "zip"])
def test_label_formats(tmp_path, fmt):
    root = make_clam_cohort(tmp_path, label_format=fmt, with_pt=False)
    cohort = load_cohort(root)
    assert len(cohort.patients) == 6 and cohort.groups.sizes == (10, 5)


def test_loading_never_writes_to_the_cohort(tmp_path):
    root = make_clam_cohort(tmp_path, n_splits=2)
    before = _snapshot(root)
    cohort = load_cohort(root)
    for c in cohort.case_ids():
        cohort.load_bag(c)
    cohort.summary()
    cohort.clinical_frame()
    cohort.genomic_tokens("CASE-001", cohort.fit_scaler(cohort.splits[0].train))
    assert _snapshot(root) == before


def test_read_only_cohort_folder_loads(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=4)
    paths = sorted(root.rglob("*"), reverse=True) + [root]
    for p in paths:
        os.chmod(p, 0o555 if p.is_dir() else 0o444)
    try:
        cohort = load_cohort(root)
        assert cohort.load_bag("CASE-000").n_patches == 9
    finally:
        for p in [root] + sorted(root.rglob("*")):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)


def test_missing_modalities_are_marked_not_fatal(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=5)
    for p in (root / "h5_files").glob("CASE-002*"):
        p.unlink()
    for p in (root / "pt_files").glob("CASE-002*"):
        p.unlink()
    labels = pd.read_csv(root / "labels.csv", index_col=0)
    gcols = [c for c in labels.columns if c.endswith(("_rnaseq", "_cnv"))]
    labels.loc[labels["case_id"] == "CASE-003", gcols] = np.nan
    labels.to_csv(root / "labels.csv")
    cohort = load_cohort(root)
    assert not cohort.has_pathology("CASE-002") and cohort.has_genomics("CASE-002")
    assert cohort.load_bag("CASE-002") is None
    assert cohort.has_pathology("CASE-003") and not cohort.has_genomics("CASE-003")
    assert cohort.genomic_tokens("CASE-003", None) is None
    assert any("no feature file" in i for i in cohort.issues)
    assert any("no genomic values" in i for i in cohort.issues)
    m = cohort.summary().modalities
    assert m == {"pathology": 4, "genomics": 4, "both": 3, "neither": 0}
    cf = cohort.clinical_frame()
    assert not cf.loc["CASE-002", "has_pathology"] and not cf.loc["CASE-003", "has_genomics"]


def test_genomics_only_and_pathology_only_cohorts(tmp_path):
    g = load_cohort(make_clam_cohort(tmp_path / "g", with_h5=False, with_pt=False))
    assert g.summary().modalities["pathology"] == 0 and g.groups is not None
    p = load_cohort(make_clam_cohort(tmp_path / "p", genomics=False))
    assert p.groups is None and p.genomic_tokens("CASE-000", None) is None
    assert p.fit_scaler(p.case_ids()).columns == ()
    assert p.summary().token_sizes == ()


def test_nothing_usable_is_fatal(tmp_path):
    root = make_clam_cohort(tmp_path, with_h5=False, with_pt=False, genomics=False)
    with pytest.raises(InputError, match="nothing usable"):
        load_cohort(root)


def test_unknown_case_id(tmp_path):
    cohort = load_cohort(make_clam_cohort(tmp_path))
    with pytest.raises(InputError, match="NOPE"):
        cohort.patient("NOPE")
    with pytest.raises(InputError, match="NOPE"):
        cohort.fit_scaler(["CASE-000", "NOPE"])


def test_bag_cache_returns_same_object(tmp_path):
    cohort = load_cohort(make_clam_cohort(tmp_path))
    a = cohort.load_bag("CASE-001")
    assert cohort.load_bag("CASE-001") is a


def test_slide_path(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=2)
    (root / "slides").mkdir()
    (root / "slides" / "CASE-000-DX1.svs").write_bytes(b"")
    (root / "slides" / "CASE-001-DX1.tiff").write_bytes(b"")
    cohort = load_cohort(root)
    assert cohort.slide_path("CASE-000-DX1.svs") == (root / "slides" / "CASE-000-DX1.svs").resolve()
    assert cohort.slide_path("CASE-001-DX1.svs") == (root / "slides" / "CASE-001-DX1.tiff").resolve()
    assert cohort.slide_path("CASE-000-DX2.svs") is None


def test_summary_type(tmp_path):
    s = load_cohort(make_clam_cohort(tmp_path)).summary()
    assert isinstance(s, CohortSummary) and s.n_slides == 7 and s.feature_dim == 8


def test_cohort_pickles_for_worker_processes(tmp_path):
    import pickle

    cohort = load_cohort(make_clam_cohort(tmp_path))
    bag = cohort.load_bag("CASE-000")
    clone = pickle.loads(pickle.dumps(cohort))
    assert len(clone._cache) == 0 and clone.case_ids() == cohort.case_ids()
    torch.testing.assert_close(clone.load_bag("CASE-000").features, bag.features)
    assert clone.has_genomics("CASE-001") and clone.summary().n_slides == 7


@needs_blca
def test_blca_through_a_cohort_file_elsewhere(tmp_path):
    (tmp_path / "blca.toml").write_text(
        f'name = "BLCA"\nroot = "{BLCA}"\nlabels = "tcga_blca_all_clean.csv.gz"\nsplits = ["splits_0.csv", "splits_3.csv"]\n'
    )
    cohort = load_cohort(tmp_path / "blca.toml")
    assert cohort.name == "BLCA" and len(cohort.patients) == 373 and len(cohort.splits) == 2
    assert cohort.splits[1] == load_cohort(BLCA).splits[3]
