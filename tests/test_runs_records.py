"""memamba_core.runs records and prediction tables: round trips (unknown keys kept), validation with messages that say what to fix."""

import json

import numpy as np
import pandas as pd
import pytest

from memamba_core.errors import InputError
from memamba_core.runs import (FoldMeta, FoldPaths, RunPaths, RunRecord, Selection, parse_predictions, prediction_frame,
                               read_fold_meta, read_run_record, survival_column_names, write_fold_meta)
from memamba_core.runs.records import META_FORMAT, RUN_FORMAT


def meta_dict(**changes) -> dict:
    d = {
        "format": META_FORMAT, "version": 1, "fold": 2, "cohort": "c",
        "model_config": {"model": "memamba", "d_model": 16, "n_bins": 4, "path_input_dim": 8, "omic_sizes": [2, 1]},
        "train_config": {"lr": 0.001}, "cuts": [3.0, 7.5, 12.0], "feature_dim": 8,
        "scaler": {"columns": ["G0_rnaseq", "G1_rnaseq", "G2_rnaseq"], "mean": [0, 0, 0], "std": [1, 1, 1]},
        "groups": {"names": ["A", "B"], "columns": [["G0_rnaseq", "G1_rnaseq"], ["G2_rnaseq"]]},
        "metrics": {"c_index": 0.61}, "selected_epoch": 3, "train_case_ids": ["P1", "P2"], "val_case_ids": ["P3"],
        "train_survival": {"times": [1.0, 2.0], "censorship": [0, 1]}, "history": [{"epoch": 1}], "seconds": 1.5,
    }
    d.update(changes)
    return d


def test_fold_meta_round_trips_and_keeps_keys_of_later_versions(tmp_path):
    later = meta_dict(calibration={"baseline_survival": [0.9, 0.7], "times": [12, 24]}, weights_sha256="ab" * 32)
    meta = FoldMeta.from_dict(later)
    assert meta.to_dict() == later
    assert meta.extra == {"calibration": later["calibration"], "weights_sha256": later["weights_sha256"]}
    assert meta.n_bins == 4 and meta.group_names == ("A", "B") and meta.group_columns == (("G0_rnaseq", "G1_rnaseq"), ("G2_rnaseq",))
    assert meta.train_times() == ([1.0, 2.0], [0, 1]) and meta.val_case_ids == ("P3",)
    fold = FoldPaths(tmp_path / "fold_2")
    fold.dir.mkdir()
    write_fold_meta(fold, meta)
    assert json.loads(fold.meta.read_text()) == later and read_fold_meta(fold) == meta


def test_fold_meta_of_an_older_writer_without_optional_keys_reads():
    bare = {k: v for k, v in meta_dict().items() if k in ("format", "fold", "model_config", "cuts")}
    meta = FoldMeta.from_dict(bare)
    assert meta.scaler is None and meta.groups is None and meta.train_times() == ([], []) and meta.metrics == {}


@pytest.mark.parametrize("changes, message", [
    (dict(format="other"), "not a memamba checkpoint"),
    (dict(cuts=[1.0, float("nan"), 3.0]), r"'cuts'\[1\] is nan, not a finite number"),
    (dict(cuts="3, 4"), "'cuts' must be a list of numbers"),
    (dict(fold="0"), "'fold' must be an integer"),
    (dict(feature_dim=0), "'feature_dim' must be a positive integer"),
    (dict(groups={"names": ["A"], "columns": []}), "'groups' must be"),
    (dict(train_survival={"times": [1.0, float("inf")]}), r"'train_survival.times'\[1\]"),
])
def test_damaged_fold_meta_is_refused_naming_the_field(changes, message):
    with pytest.raises(InputError, match=message):
        FoldMeta.from_dict(meta_dict(**changes), source="x/meta")
    with pytest.raises(InputError, match="lacks 'model_config'"):
        FoldMeta.from_dict({k: v for k, v in meta_dict().items() if k != "model_config"})


def test_run_record_round_trips_exactly_and_names_its_kind(tmp_path):
    cv = {"format": RUN_FORMAT, "train": {"lr": 1}, "model": {"model": "snn"}, "cohort": {"name": "c"},
          "fold_source": "3 generated folds", "folds": [{"train": ["a"], "val": ["b"]}], "endpoint": "OS"}
    rec = RunRecord.from_dict(cv)
    assert rec.to_dict() == cv and rec.kind == "cv" and rec.n_folds == 1 and rec.cohort_name == "c"
    assert rec.extra == {"endpoint": "OS"}
    nested = {"format": RUN_FORMAT, "procedure": "nested", "grid": {"a": {}}, "n_inner": 3}
    assert RunRecord.from_dict(nested).to_dict() == nested and RunRecord.from_dict(nested).kind == "nested"
    with pytest.raises(InputError, match="not a memamba run folder's config"):
        RunRecord.from_dict({"train": {}})
    (tmp_path / "x").mkdir()
    RunPaths(tmp_path / "x").config.write_text("{not json")
    with pytest.raises(InputError, match="corrupt or unreadable run config"):
        read_run_record(tmp_path / "x")
    assert read_run_record(tmp_path / "nothing") is None


def test_selection_round_trips_and_checks_its_winner():
    d = {"fold": 0, "chosen": "a", "inner_scores": {"a": {"mean": 0.6, "inner": [0.6]}}, "metrics": {"c_index": 0.7},
         "cuts": [1.0, 2.0, 3.0], "member_c_index": [0.7], "n_train": 10, "n_val": 3, "val_case_ids": ["x"],
         "seconds": 2.0, "reference_risk": [0.1, -0.3], "later": True}
    sel = Selection.from_dict(d)
    assert sel.to_dict() == d and sel.chosen_inner_mean == 0.6 and sel.reference_risk == (0.1, -0.3)
    old = {k: v for k, v in d.items() if k != "reference_risk"}  # written before reference risks were kept
    assert Selection.from_dict(old).reference_risk == ()
    with pytest.raises(InputError, match=r"'reference_risk'\[1\] is nan"):
        Selection.from_dict({**d, "reference_risk": [0.1, float("nan")]})
    with pytest.raises(InputError, match="chosen candidate 'b' has no inner score"):
        Selection.from_dict({**d, "chosen": "b"})


def test_prediction_table_round_trip_and_extra_columns():
    surv = np.array([[0.9, 0.6], [0.8, 0.3]])
    df = prediction_frame(["p1", "p2"], [-1.5, -1.1], surv, fold=1, survival_months=[3.0, 4.0], censorship=[0, 1],
                          in_training=[False, True])
    assert list(df.columns) == ["case_id", "fold", "risk", "S_1", "S_2", "survival_months", "censorship", "in_training"]
    parsed = parse_predictions(df, require_fold=True)
    np.testing.assert_array_equal(parsed.survival, surv)
    assert parsed.n_bins == 2 and list(parsed.frame.columns) == ["case_id", "fold", "risk", "survival_months", "censorship",
                                                                 "in_training"]
    pd.testing.assert_frame_equal(parsed.to_frame(), df, check_dtype=False)
    assert survival_column_names(["S_10", "S_2", "S_1", "S_cal_12"] + [f"S_{k}" for k in range(3, 10)])[-1] == "S_10"


def _table(**cols):
    base = {"case_id": ["a", "b", "c"], "fold": [0, 0, 1], "risk": [-1.0, -2.0, -1.5], "S_1": [0.9, 0.8, 0.7],
            "S_2": [0.5, 0.4, 0.6], "survival_months": [1.0, 2.0, 3.0], "censorship": [0, 1, 0]}
    base.update(cols)
    return pd.DataFrame({k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize("cols, message", [
    (dict(risk=None), "missing column\\(s\\) risk"),
    (dict(fold=None), "missing column\\(s\\) fold"),
    (dict(S_1=None), "survival columns S_2 are not S_1 … S_K"),
    (dict(risk=[-1.0, float("nan"), -1.0]), "column risk has 1 missing or non-finite value\\(s\\) \\(rows 3\\)"),
    (dict(survival_months=[1.0, "x", 3.0]), "column survival_months has 1 missing"),
    (dict(S_2=[0.5, 1.2, 0.6]), "survival probabilities outside \\[0, 1\\] \\(rows 3\\)"),
    (dict(censorship=[0, 2, 0]), "column censorship must be 0 or 1 \\(rows 3\\)"),
])
def test_bad_prediction_tables_name_the_column_and_rows(cols, message):
    with pytest.raises(InputError, match=f"preds.csv: {message}"):
        parse_predictions(_table(**cols), source="preds.csv", require_fold=True)
