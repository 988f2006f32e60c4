"""Label CSV validation: every bad input is an InputError naming file, column, rows and fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memamba_core.data import load_cohort
from memamba_core.data.labels import parse_labels
from memamba_core.errors import InputError
from tests._cohort_fixtures import make_clam_cohort


def _edit(root, fn):
    df = pd.read_csv(root / "labels.csv", index_col=0, dtype={"case_id": str, "slide_id": str})
    df = fn(df)
    df.to_csv(root / "labels.csv")
    return root


@pytest.fixture
def root(tmp_path):
    return make_clam_cohort(tmp_path, n_patients=6, with_pt=False)


@pytest.mark.parametrize("col", ["case_id", "slide_id", "survival_months", "censorship"])
def test_missing_required_column(root, col):
    _edit(root, lambda d: d.drop(columns=[col]))
    with pytest.raises(InputError, match=rf"labels\.csv: missing required column\(s\) '{col}'"):
        load_cohort(root)


def test_censorship_not_binary(root):
    def f(d):
        d["censorship"] = d["censorship"].astype(object)
        d.loc[2, "censorship"] = 2
        d.loc[4, "censorship"] = "yes"
        return d

    _edit(root, f)
    with pytest.raises(InputError) as e:
        load_cohort(root)
    msg = str(e.value)
    assert "labels.csv" in msg and "'censorship'" in msg and "data rows 3, 5" in msg and "0 (event) or 1 (censored)" in msg


@pytest.mark.parametrize("value, what", [(-1.0, "negative"), ("soon", "non-numeric"), (np.inf, "infinite")])
def test_bad_survival_times_list_rows(root, value, what):
    def f(d):
        d["survival_months"] = d["survival_months"].astype(object)
        d.loc[[1, 5], "survival_months"] = value
        return d

    _edit(root, f)
    with pytest.raises(InputError, match=rf"labels\.csv: column 'survival_months' has 2 {what} values \(data rows 2, 6;"):
        load_cohort(root)


def test_zero_survival_time_is_kept(root):
    # TCGA's progression-free intervals hold 0.0 months (an event in the first month): a valid time
    _edit(root, lambda d: d.assign(survival_months=d["survival_months"].where(d.index != 6, 0.0)))
    assert load_cohort(root).patient("CASE-005").survival_months == 0.0


def test_missing_survival_leaves_the_patient_out_with_an_issue(root):
    def f(d):
        d.loc[d["case_id"] == "CASE-003", "survival_months"] = np.nan
        d.loc[d["case_id"] == "CASE-004", "censorship"] = np.nan
        return d

    _edit(root, f)
    cohort = load_cohort(root)
    assert "CASE-003" not in cohort.case_ids() and "CASE-004" not in cohort.case_ids()
    assert len(cohort.patients) == 4
    assert any("2 patient(s) have no 'os' value" in i and "left out" in i for i in cohort.issues)


def test_one_missing_row_of_a_multi_slide_patient_keeps_the_patient(root):
    # CASE-000 has two slide rows; an empty cell on one of them is not a conflict
    _edit(root, lambda d: d.assign(survival_months=[np.nan] + d["survival_months"].tolist()[1:]))
    p = load_cohort(root).patient("CASE-000")
    assert p.survival_months == 5.0 and p.slide_ids == ("CASE-000-DX1.svs", "CASE-000-DX2.svs")


def test_every_patient_missing_survival_is_an_error(root):
    _edit(root, lambda d: d.assign(survival_months=np.nan))
    with pytest.raises(InputError, match=r"no patient has a complete 'os' label"):
        load_cohort(root)


def test_conflicting_survival_for_one_case(root):
    # CASE-000 has two slide rows (0 and 1); give them different survival times
    _edit(root, lambda d: d.assign(survival_months=[5.0, 6.0] + d["survival_months"].tolist()[2:]))
    with pytest.raises(InputError, match=r"case_id CASE-000 has conflicting 'survival_months'.*rows 1, 2"):
        load_cohort(root)


def test_conflicting_censorship_for_one_case(root):
    _edit(root, lambda d: d.assign(censorship=[0, 1] + d["censorship"].tolist()[2:]))
    with pytest.raises(InputError, match=r"CASE-000 has conflicting 'censorship'"):
        load_cohort(root)


def test_empty_case_id(root):
    _edit(root, lambda d: d.assign(case_id=[None] + d["case_id"].tolist()[1:]))
    with pytest.raises(InputError, match=r"'case_id' is empty in data row 1"):
        load_cohort(root)


def test_slide_under_two_cases(root):
    _edit(root, lambda d: d.assign(slide_id=d["slide_id"].where(d.index != 3, d["slide_id"].iloc[2])))
    with pytest.raises(InputError, match=r"slide_id CASE-001-DX1.svs is listed under different case_ids"):
        load_cohort(root)


def test_empty_label_file(root):
    (root / "labels.csv").write_text("")
    with pytest.raises(InputError, match="labels.csv: the file is empty"):
        load_cohort(root)


def test_header_only(root):
    (root / "labels.csv").write_text("case_id,slide_id,survival_months,censorship\n")
    with pytest.raises(InputError, match="no rows"):
        load_cohort(root)


def test_patients_merged_and_clinical_kept(root):
    cohort = load_cohort(root)
    p = cohort.patient("CASE-000")
    assert p.slide_ids == ("CASE-000-DX1.svs", "CASE-000-DX2.svs")
    assert p.survival_months == 5.0 and p.censorship == 0 and p.event
    assert p.clinical == {"oncotree_code": "BLCA", "site": "AA", "age": 50, "is_female": 0}
    assert [type(v) for v in p.clinical.values()] == [str, str, int, int]
    assert cohort.case_ids() == [f"CASE-{i:03d}" for i in range(6)]


def test_conflicting_clinical_is_an_issue(root):
    _edit(root, lambda d: d.assign(age=[50, 51] + d["age"].tolist()[2:]))
    cohort = load_cohort(root)
    assert cohort.patient("CASE-000").clinical["age"] == 50
    assert any("different 'age'" in i and "CASE-000" in i for i in cohort.issues)


def test_empty_slide_id_means_no_slide(root):
    _edit(root, lambda d: d.assign(slide_id=d["slide_id"].where(d.index != 6, None)))
    cohort = load_cohort(root)
    assert cohort.patient("CASE-005").slide_ids == ()
    assert not cohort.has_pathology("CASE-005") and cohort.has_genomics("CASE-005")


def test_parse_labels_directly(tmp_path):
    df = pd.DataFrame({"case_id": ["a", "a", "b"], "slide_id": ["s1", "s2", "s3"],
                       "survival_months": [1.5, 1.5, 3.0], "censorship": [1, 1, 0]})
    t = parse_labels(df, tmp_path / "x.csv")
    assert [p.case_id for p in t.patients] == ["a", "b"] and t.first_row == {"a": 0, "b": 2}
    assert t.patients[0].clinical == {} and not t.patients[0].event
