"""Real data (issue 17): TCGA-STAD exactly as mahmoodlab/SurvPath publishes it loads unedited.

319 patients, 343 slides, the five SurvPath splits, 281 xena (Reactome/PID)
pathway tokens or 50 Hallmarks, three endpoints (OS, DSS, PFI) and the
clinical table (stage, grade, subtype). The numbers asserted here are
recomputed from the raw files with pandas, independently of the loader.
Skipped when the folder is absent (``$MEMAMBA_STAD`` or
``../shared/data/tcga_stad_survpath``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from memamba_core.data import load_cohort
from memamba_core.errors import InputError

REPO = Path(__file__).resolve().parents[1]
STAD = Path(os.environ.get("MEMAMBA_STAD", REPO.parent / "shared" / "data" / "tcga_stad_survpath"))
DS = STAD / "datasets_csv"

pytestmark = pytest.mark.skipif(not (DS / "metadata" / "tcga_stad.csv").is_file(),
                                reason=f"TCGA-STAD (SurvPath layout) not found at {STAD}")


def _digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def before():
    return _digest(STAD)


@pytest.fixture(scope="module")
def stad(tmp_path_factory, before):
    # a cohort file outside the (read-only) data folder, pointing at it with root
    toml = tmp_path_factory.mktemp("stad") / "stad.toml"
    toml.write_text(f'name = "TCGA-STAD (SurvPath)"\nroot = "{STAD}"\n')
    return load_cohort(toml)


@pytest.fixture(scope="module")
def meta():
    return pd.read_csv(DS / "metadata" / "tcga_stad.csv", index_col=0).drop_duplicates("case_id").set_index("case_id")


def test_patients_slides_and_layout(stad):
    s = stad.summary()
    assert s.n_patients == 319 and s.n_slides == 343 and s.layout == "survpath"
    assert stad.config.study == "tcga_stad" and stad.name == "TCGA-STAD (SurvPath)"
    assert stad.config.rna_source == "xena" and stad.config.pathway_set == "xena"
    assert s.modalities["pathology"] == 0 and s.modalities["genomics"] == 318  # one patient has no RNA row


def test_five_published_splits(stad):
    assert len(stad.splits) == 5
    for k, split in enumerate(stad.splits):
        raw = pd.read_csv(STAD / "splits" / "5foldcv" / "tcga_stad" / f"splits_{k}.csv", dtype=str)
        assert set(split.train) == set(raw["train"].dropna()) and set(split.val) == set(raw["val"].dropna())
        assert len(split.train) + len(split.val) == 319


def test_281_xena_tokens_match_the_raw_rna(stad):
    comps = pd.read_csv(DS / "pathway_compositions" / "xena_comps.csv", index_col=0)
    rna = pd.read_csv(DS / "raw_rna_data" / "xena" / "stad" / "rna_clean.csv", index_col=0)
    assert len(stad.groups.names) == 281 and stad.groups.names == tuple(comps.columns)
    assert stad.groups.sizes == tuple(int(n) for n in comps.sum(0))
    r = stad.groups_report
    assert (r.n_kept, r.genes_listed, r.genes_matched, r.genes_in_data) == (281, 1577, 1577, 1577)
    split = stad.splits[0]
    scaler = stad.fit_scaler(split.train)
    case = next(c for c in split.val if c in rna.index)
    tokens = stad.genomic_tokens(case, scaler)
    assert len(tokens) == 281 and all(t.dtype == torch.float32 and torch.isfinite(t).all() for t in tokens)
    j = int(np.argmax(stad.groups.sizes))  # the largest pathway, recomputed with pandas
    genes = sorted(comps.index[comps.iloc[:, j] == 1], key=lambda g: f"{g}_rnaseq")
    train = rna.loc[[c for c in split.train if c in rna.index], genes]
    expected = (rna.loc[case, genes] - train.mean()) / train.std(ddof=0)
    np.testing.assert_allclose(tokens[j].numpy(), expected.to_numpy(np.float32), rtol=1e-4, atol=1e-4)


def test_50_hallmark_tokens(tmp_path):
    toml = tmp_path / "hallmarks.toml"
    toml.write_text(f'root = "{STAD}"\npathway_set = "hallmarks"\n')
    cohort = load_cohort(toml)
    assert len(cohort.groups.names) == 50 and all(n.startswith("HALLMARK_") for n in cohort.groups.names)
    r = cohort.groups_report
    assert (r.source, r.genes_listed, r.genes_matched) == ("hallmarks_comps.csv", 4241, 819)
    assert any("819 of its 4241 genes" in i for i in cohort.issues)
    assert cohort.config.rna_source == "xena"  # the only RNA source of this folder


@pytest.mark.parametrize("endpoint, censored", [("os", 62.4), ("dss", 73.7), ("pfi", 64.3)])
def test_three_endpoints(endpoint, censored, meta, tmp_path):
    (tmp_path / "c.toml").write_text(f'root = "{STAD}"\nendpoint = "{endpoint}"\n')
    cohort = load_cohort(tmp_path / "c.toml")
    assert cohort.endpoint == endpoint and cohort.endpoints == ("os", "dss", "pfi")
    assert round(100 * cohort.summary().censored_fraction, 1) == censored
    suffix = "" if endpoint == "os" else f"_{endpoint}"
    p = cohort.patients[7]
    assert p.survival_months == meta.loc[p.case_id, f"survival_months{suffix}"]
    assert p.censorship == meta.loc[p.case_id, f"censorship{suffix}"]
    assert len(cohort.patients) == 319 and len(cohort.splits) == 5


def test_clinical_table_joined(stad):
    raw = pd.read_csv(DS / "clinical_data" / "tcga_stad_clinical.csv", index_col=0).set_index("case_id")
    cf = stad.clinical_frame()
    assert len(cf) == 319 and {"stage", "grade", "subtype", "age", "is_female"} <= set(cf.columns)
    assert {"stage", "grade", "subtype"} <= set(stad.clinical_columns)
    for case in ("TCGA-3M-AB46", stad.case_ids()[100]):
        for col in ("stage", "grade", "subtype"):
            want = raw.loc[case, col]
            assert (pd.isna(want) and pd.isna(cf.loc[case, col])) or cf.loc[case, col] == want
    assert stad.patient("TCGA-3M-AB46").clinical["stage"] == "II"
    assert any("159 of 478 case id(s) match no patient" in i for i in stad.issues)


def test_found_without_a_cohort_file(stad):
    plain = load_cohort(STAD)
    assert plain.case_ids() == stad.case_ids() and plain.name == "TCGA-STAD"
    assert plain.groups == stad.groups and plain.splits == stad.splits


def test_an_endpoint_the_folder_lacks_is_named(tmp_path):
    (tmp_path / "c.toml").write_text(f'root = "{STAD}"\nendpoint = "pfs"\n')
    with pytest.raises(InputError, match=r"unknown survival endpoint 'pfs'; choose one of \"os\""):
        load_cohort(tmp_path / "c.toml")


def test_the_folder_is_unchanged(stad, before):
    load_cohort(STAD, endpoint="dss").summary()
    assert _digest(STAD) == before
