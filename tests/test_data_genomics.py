"""Genomic values (label CSV or genomics CSV), the scaler and genomic tokens."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from memamba_core.data import GeneGroups, GenomicScaler, load_cohort
from memamba_core.errors import InputError
from tests._cohort_fixtures import make_clam_cohort


@pytest.fixture
def root(tmp_path):
    return make_clam_cohort(tmp_path, n_patients=6, with_pt=False, with_h5=False)


def _labels(root):
    return pd.read_csv(root / "labels.csv", index_col=0)


def test_non_numeric_genomic_value(root):
    df = _labels(root)
    df["GENE3_rnaseq"] = df["GENE3_rnaseq"].astype(object)
    df.loc[2, "GENE3_rnaseq"] = "high"
    df.to_csv(root / "labels.csv")
    with pytest.raises(InputError, match=r"labels\.csv: genomic column 'GENE3_rnaseq' has non-numeric values \(data row 3"):
        load_cohort(root)


def test_separate_genomics_csv(root):
    df = _labels(root)
    gcols = [c for c in df.columns if c.endswith(("_rnaseq", "_cnv"))]
    gen = df.drop_duplicates("case_id").set_index("case_id")[gcols]
    gen = gen.drop(index="CASE-004")
    gen.loc["CASE-XYZ"] = 0.0
    gen.reset_index().to_csv(root / "genomics.csv", index=False)
    df.drop(columns=gcols).to_csv(root / "labels.csv")
    cohort = load_cohort(root)
    assert cohort.groups.sizes == (10, 5)
    assert not cohort.has_genomics("CASE-004") and cohort.has_genomics("CASE-000")
    assert any("CASE-XYZ" in i for i in cohort.issues)
    raw = cohort.genomic_matrix(["CASE-001"])[0]
    expected = gen.loc["CASE-001", list(cohort.genomic_columns)].to_numpy(np.float32)
    np.testing.assert_array_equal(raw, expected)


def test_genomics_csv_duplicate_case(root):
    pd.DataFrame({"case_id": ["CASE-000", "CASE-000"], "GENE0_rnaseq": [1, 2]}).to_csv(root / "genomics.csv", index=False)
    with pytest.raises(InputError, match=r"genomics\.csv: case_id CASE-000 appears on several rows \(data rows 1, 2\)"):
        load_cohort(root)


def test_genomics_csv_without_case_id(root):
    pd.DataFrame({"id": ["CASE-000"], "GENE0_rnaseq": [1]}).to_csv(root / "genomics.csv", index=False)
    with pytest.raises(InputError, match=r"genomics\.csv: missing required column 'case_id'"):
        load_cohort(root)


def test_scaler_fitted_on_train_only_and_nan_rule():
    X = np.array([[1.0, 5.0, np.nan], [3.0, 5.0, np.nan], [100.0, np.nan, np.nan]])
    s = GenomicScaler().fit(X[:2], ("a", "b", "c"))
    np.testing.assert_allclose(s.mean_, [2.0, 5.0, 0.0])
    np.testing.assert_allclose(s.std_, [1.0, 1.0, 1.0])  # std 0 -> 1; all-NaN column -> mean 0, std 1
    Z = s.transform(X)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    np.testing.assert_allclose(Z[2], [98.0, 0.0, 0.0])  # NaN -> 0 = the training mean
    s2 = GenomicScaler.from_dict(json.loads(json.dumps(s.to_dict())))
    assert s2.columns == s.columns
    np.testing.assert_array_equal(s2.transform(X), Z)


def test_scaler_from_bad_dict():
    with pytest.raises(InputError, match="damaged"):
        GenomicScaler.from_dict({"columns": ["a"], "mean": [0, 1], "std": [1]})
    with pytest.raises(InputError, match="damaged"):
        GenomicScaler.from_dict({"columns": ["a"]})


def test_cohort_scaler_uses_training_patients(root):
    cohort = load_cohort(root)
    train = cohort.case_ids()[:4]
    s = cohort.fit_scaler(train)
    raw = cohort.genomic_matrix(train)
    np.testing.assert_allclose(s.mean_, raw.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cohort.genomic_matrix(train, s).mean(0), 0, atol=1e-5)
    tokens = cohort.genomic_tokens("CASE-005", s)
    z = s.transform(cohort.genomic_matrix(["CASE-005"]))[0]
    flat = torch.cat(tokens).numpy()
    order = [cohort.genomic_columns.index(c) for cs in cohort.groups.columns for c in cs]
    np.testing.assert_allclose(flat, z[order])


def test_genomic_nan_imputed_in_tokens(root):
    df = _labels(root)
    df.loc[df["case_id"] == "CASE-002", "GENE1_rnaseq"] = np.nan
    df.to_csv(root / "labels.csv")
    cohort = load_cohort(root)
    s = cohort.fit_scaler(cohort.case_ids())
    tokens = cohort.genomic_tokens("CASE-002", s)
    j = cohort.groups.columns[1].index("GENE1_rnaseq")
    assert tokens[1][j].item() == 0.0 and all(torch.isfinite(t).all() for t in tokens)


def test_tokens_with_foreign_groups(root):
    cohort = load_cohort(root)
    groups = GeneGroups(("x",), (("GENE0_rnaseq", "MISSING_rnaseq"),))
    s = GenomicScaler().fit(np.array([[0.0, 1.0], [2.0, 3.0]]), ("GENE0_rnaseq", "MISSING_rnaseq"))
    (tok,) = cohort.genomic_tokens("CASE-000", s, groups=groups)
    raw = cohort.genomic_matrix(["CASE-000"])[0][cohort.genomic_columns.index("GENE0_rnaseq")]
    np.testing.assert_allclose(tok.numpy(), [raw - 1.0, 0.0], rtol=1e-6)


def test_conflicting_genomics_across_slide_rows_is_issue(root):
    df = _labels(root)
    df.loc[1, "GENE0_rnaseq"] = 99.0  # CASE-000's second slide row
    df.to_csv(root / "labels.csv")
    cohort = load_cohort(root)
    assert any("different genomic values" in i for i in cohort.issues)
    assert cohort.genomic_matrix(["CASE-000"])[0][cohort.genomic_columns.index("GENE0_rnaseq")] != 99.0
