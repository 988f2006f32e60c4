"""The per-patient clinical table (stage, grade, subtype, …) joined by case_id."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from tests._cohort_fixtures import make_survpath_cohort


@pytest.fixture
def root(tmp_path):
    return make_survpath_cohort(tmp_path)


def _clinical(root):
    return root / "datasets_csv/clinical_data/tcga_test_clinical.csv"


def test_clinical_values_in_patients_and_frame(root):
    cohort = load_cohort(root)
    p = cohort.patient("P-001")
    assert p.clinical["stage"] == "II" and p.clinical["grade"] == "G2" and p.clinical["subtype"] == "T"
    assert p.clinical["age"] == 41.0 and p.clinical["oncotree_code"] == "TEST"  # label CSV columns kept
    assert "stage" not in cohort.patient("P-003").clinical  # an empty cell is missing
    cf = cohort.clinical_frame()
    assert list(cf.columns[:4]) == ["survival_months", "censorship", "event", "n_slides"]
    assert {"stage", "grade", "subtype"} <= set(cf.columns) and pd.isna(cf.loc["P-003", "stage"])
    assert cf.loc["P-005", "grade"] == "G3"
    assert cohort.clinical_columns == ("oncotree_code", "site", "age", "is_female", "stage", "grade", "subtype")
    assert "stage, grade, subtype" in cohort.summary().to_frame().set_index("item").loc["clinical variables", "value"]


def test_duplicate_rows_merged_and_extra_rows_reported(root):
    cohort = load_cohort(root)
    assert cohort.patient("P-002").clinical["stage"] == "III"
    assert any("1 case(s) have several rows" in i and "P-002" in i for i in cohort.issues)
    assert any("1 of 13 case id(s) match no patient" in i and "NOT-A-PATIENT" in i for i in cohort.issues)


def test_disagreeing_duplicate_rows_keep_the_first_non_empty(root):
    df = pd.read_csv(_clinical(root), index_col=0)
    df.loc[3, "stage"] = "IV"  # P-002's second row disagrees
    df.loc[2, "grade"] = np.nan  # ... and its first lacks a grade
    df.to_csv(_clinical(root))
    p = load_cohort(root).patient("P-002")
    assert p.clinical["stage"] == "III" and p.clinical["grade"] == "G3"
    assert any("1 of them with different values" in i for i in load_cohort(root).issues)


def test_a_table_without_case_id_is_refused(root):
    df = pd.read_csv(_clinical(root), index_col=0).rename(columns={"case_id": "patient"})
    df.to_csv(_clinical(root))
    with pytest.raises(InputError, match=r"tcga_test_clinical\.csv: missing required column 'case_id'.*Found columns: patient, stage"):
        load_cohort(root)


def test_a_table_keyed_differently_gives_the_overlap(root):
    df = pd.read_csv(_clinical(root), index_col=0)
    df["case_id"] = df["case_id"] + "-01A"  # sample barcodes instead of patient ids
    df.to_csv(_clinical(root))
    with pytest.raises(InputError, match=r"0 of its 13 case id\(s\) match a patient.*P-000-01A.*P-000.*key the clinical table by the same case_id"):
        load_cohort(root)


def test_columns_the_labels_define_are_ignored(root):
    df = pd.read_csv(_clinical(root), index_col=0).assign(survival_months=1.0, event=1)
    df.to_csv(_clinical(root))
    cohort = load_cohort(root)
    assert cohort.patient("P-005").survival_months == 40.0
    assert any("survival_months, event are defined by the label CSV" in i for i in cohort.issues)


def test_infinite_clinical_number_is_refused(root):
    df = pd.read_csv(_clinical(root), index_col=0).assign(score=1.5)
    df.loc[4, "score"] = np.inf
    df.to_csv(_clinical(root))
    with pytest.raises(InputError, match=r"clinical column 'score' has 1 infinite value\(s\) \(data row 5\)"):
        load_cohort(root)


def test_only_case_id_is_refused(root):
    pd.DataFrame({"case_id": ["P-000"]}).to_csv(_clinical(root))
    with pytest.raises(InputError, match=r"no column besides case_id"):
        load_cohort(root)


def test_clinical_key_in_a_cohort_file(root):
    pd.DataFrame({"case_id": ["P-000", "P-001"], "msi": ["MSI-H", "MSS"]}).to_csv(root / "extra.csv", index=False)
    (root / "cohort.toml").write_text('clinical = "extra.csv"\n')
    cohort = load_cohort(root)
    assert cohort.patient("P-001").clinical["msi"] == "MSS" and "stage" not in cohort.patient("P-001").clinical
    assert any("10 patient(s) have no row in the clinical table" in i for i in cohort.issues)


def test_label_clinical_values_win_over_the_table(root):
    df = pd.read_csv(_clinical(root), index_col=0).assign(age=99.0)
    df.to_csv(_clinical(root))
    cohort = load_cohort(root)
    assert cohort.patient("P-001").clinical["age"] == 41.0
    assert any("disagree with the label CSV's clinical columns" in i for i in cohort.issues)
