"""Split files and generated stratified folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memamba_core.data import Split, load_cohort
from memamba_core.data.splits import make_folds, read_split
from memamba_core.errors import InputError
from tests._cohort_fixtures import make_clam_cohort


def _write_split(path, train, val, test=None):
    cols = {"train": pd.Series(train, dtype=object), "val": pd.Series(val, dtype=object)}
    if test is not None:
        cols["test"] = pd.Series(test, dtype=object)
    pd.DataFrame(cols).to_csv(path)


def test_split_files_in_splits_folder_in_order(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=6, n_splits=3, with_pt=False)
    # splits_10 sorts after splits_2 numerically
    _write_split(root / "splits" / "splits_10.csv", ["CASE-000"], ["CASE-001"])
    cohort = load_cohort(root)
    assert len(cohort.splits) == 4
    assert cohort.splits[0].val == ("CASE-000", "CASE-003")
    assert cohort.splits[3] == Split(("CASE-000",), ("CASE-001",))


def test_split_files_in_root(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=4, with_pt=False)
    _write_split(root / "splits_0.csv", ["CASE-000", "CASE-001"], ["CASE-002"], ["CASE-003"])
    split = load_cohort(root).splits[0]
    assert split == Split(("CASE-000", "CASE-001"), ("CASE-002",), ("CASE-003",))


def test_split_unknown_case(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=4, with_pt=False)
    _write_split(root / "splits_0.csv", ["CASE-000", "CASE-999"], ["CASE-002"])
    with pytest.raises(InputError, match=r"splits_0\.csv: column 'train' names case CASE-999, which is not in the label CSV"):
        load_cohort(root)


def test_split_case_in_train_and_val(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=4, with_pt=False)
    _write_split(root / "splits_0.csv", ["CASE-000", "CASE-001"], ["CASE-001"])
    with pytest.raises(InputError, match=r"splits_0\.csv: case CASE-001 is in both 'train' and 'val'"):
        load_cohort(root)


def test_split_missing_column(tmp_path):
    path = tmp_path / "splits_0.csv"
    pd.DataFrame({"train": ["a"], "validation": ["b"]}).to_csv(path)
    with pytest.raises(InputError, match=r"splits_0\.csv: missing column\(s\) 'val'"):
        read_split(path, {"a", "b"})


def test_split_ragged_and_duplicates(tmp_path):
    path = tmp_path / "splits_0.csv"
    path.write_text(",train,val\n0,a,c\n1,b,\n2,a,\n")
    assert read_split(path, {"a", "b", "c"}) == Split(("a", "b"), ("c",))


def test_make_folds_stratified_deterministic():
    ids = [f"p{i}" for i in range(23)]
    events = np.array([i % 3 == 0 for i in range(23)])
    folds = make_folds(ids, events, k=5, seed=7)
    assert folds == make_folds(ids, events, k=5, seed=7)
    assert folds != make_folds(ids, events, k=5, seed=8)
    vals = [set(f.val) for f in folds]
    assert set().union(*vals) == set(ids) and sum(len(v) for v in vals) == 23
    assert max(len(v) for v in vals) - min(len(v) for v in vals) <= 1
    ev = {i for i, e in zip(ids, events) if e}
    n_ev = [len(v & ev) for v in vals]
    assert max(n_ev) - min(n_ev) <= 1
    for f in folds:
        assert not set(f.train) & set(f.val) and len(f.train) + len(f.val) == 23


def test_make_folds_errors():
    with pytest.raises(InputError, match="cannot make 5 folds from 3 patient"):
        make_folds(["a", "b", "c"], np.array([1, 0, 1], bool), k=5)
    with pytest.raises(InputError, match="integer ≥ 2"):
        make_folds(["a", "b", "c"], np.array([1, 0, 1], bool), k=1)


def test_cohort_make_folds(tmp_path):
    cohort = load_cohort(make_clam_cohort(tmp_path, n_patients=10, with_pt=False))
    folds = cohort.make_folds(k=5, seed=0)
    assert len(folds) == 5 and all(len(f.val) == 2 for f in folds)
    for f in folds:  # one event, one censored patient per validation fold
        assert sorted(cohort.patient(c).censorship for c in f.val) == [0, 1]
    with pytest.raises(InputError):
        cohort.make_folds(k=11)


def test_split_roundtrip_dict():
    s = Split(("a",), ("b",), ("c",))
    assert Split.from_dict(s.to_dict()) == s
