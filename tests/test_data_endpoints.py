"""Survival endpoints (OS / DSS / PFI): chosen in the cohort file or by argument, listed, validated."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from memamba_core.data import load_cohort
from memamba_core.data.endpoints import ENDPOINTS, available_endpoints, get_endpoint
from memamba_core.errors import InputError
from tests._cohort_fixtures import make_clam_cohort, make_survpath_cohort


@pytest.fixture
def root(tmp_path):
    return make_survpath_cohort(tmp_path, missing_dss=(4, 7))


def _meta(root):
    return pd.read_csv(root / "datasets_csv/metadata/tcga_test.csv", index_col=0).drop_duplicates("case_id").set_index("case_id")


def test_endpoint_table():
    assert tuple(ENDPOINTS) == ("os", "dss", "pfi")
    assert available_endpoints(["survival_months", "censorship", "survival_months_pfi", "censorship_pfi", "x"]) == ("os", "pfi")
    assert available_endpoints(["survival_months_dss"]) == ()
    assert get_endpoint(" DSS ").time_column == "survival_months_dss"


@pytest.mark.parametrize("endpoint", ["os", "dss", "pfi"])
def test_patients_carry_the_chosen_endpoint(root, endpoint):
    meta = _meta(root)
    cohort = load_cohort(root, endpoint=endpoint)
    assert cohort.endpoint == endpoint and cohort.endpoints == ("os", "dss", "pfi")
    e = ENDPOINTS[endpoint]
    for p in cohort.patients:
        assert p.survival_months == meta.loc[p.case_id, e.time_column]
        assert p.censorship == meta.loc[p.case_id, e.censorship_column]
    s = cohort.summary()
    assert s.endpoint == endpoint and s.endpoints == ("os", "dss", "pfi")
    assert f"{endpoint} ({e.title})" in s.to_frame()["value"].tolist()
    assert json.loads(json.dumps(s.to_dict()))["endpoints"] == ["os", "dss", "pfi"]
    assert cohort.endpoint_title == e.title


def test_pfi_time_zero_is_a_valid_time(root):
    assert load_cohort(root, endpoint="pfi").patient("P-001").survival_months == 0.0


def test_missing_endpoint_values_leave_patients_out_with_an_issue(root):
    os_ = load_cohort(root)
    dss = load_cohort(root, endpoint="dss")
    assert len(os_.patients) == 12 and len(dss.patients) == 10
    assert "P-004" not in dss.case_ids() and "P-007" not in dss.case_ids()
    assert any("2 patient(s) have no 'dss' value" in i for i in dss.issues)
    assert any("2 patient(s) left out for the 'dss' endpoint were removed from the splits" in i for i in dss.issues)
    assert len(dss.splits) == 5 and not {"P-004", "P-007"} & {c for s in dss.splits for c in (*s.train, *s.val)}
    # the left-out patients' RNA and clinical rows are not reported as "matching no patient"
    assert not any("P-004" in i for i in dss.issues if "match no patient" in i)


def test_cohort_file_endpoint_and_argument_override(root, tmp_path):
    (tmp_path / "c.toml").write_text(f'root = "{root}"\nendpoint = "dss"\n')
    assert load_cohort(tmp_path / "c.toml").endpoint == "dss"
    assert load_cohort(tmp_path / "c.toml", endpoint="pfi").endpoint == "pfi"


def test_an_endpoint_the_cohort_lacks_names_the_ones_it_has(tmp_path):
    root = make_clam_cohort(tmp_path, with_pt=False)  # MCAT layout: overall survival only
    with pytest.raises(InputError, match=r"labels\.csv: this cohort has no 'dss' endpoint .*it has \"os\" \(overall survival\)"):
        load_cohort(root, endpoint="dss")


def test_a_cohort_without_os_says_which_endpoint_to_choose(root):
    meta = pd.read_csv(root / "datasets_csv/metadata/tcga_test.csv", index_col=0)
    meta.drop(columns=["survival_months", "censorship"]).to_csv(root / "datasets_csv/metadata/tcga_test.csv")
    with pytest.raises(InputError, match=r"no 'os' endpoint.*it has \"dss\".*\"pfi\".*endpoint = \"dss\""):
        load_cohort(root)
    assert load_cohort(root, endpoint="pfi").endpoints == ("dss", "pfi")


@pytest.mark.parametrize("bad", ["pfs", "", 3, "overall"])
def test_unknown_endpoint_names_the_choices(root, bad):
    with pytest.raises(InputError, match=r"unknown survival endpoint .*choose one of \"os\" \(overall survival\), \"dss\""):
        load_cohort(root, endpoint=bad)
    value = f'"{bad}"' if isinstance(bad, str) else bad
    (root / "cohort.toml").write_text(f"endpoint = {value}\n")
    with pytest.raises(InputError, match=r"cohort\.toml: endpoint: unknown survival endpoint"):
        load_cohort(root)
