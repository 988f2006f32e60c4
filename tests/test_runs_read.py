"""memamba_core.runs readers: what the dashboard reads at start-up, without torch; finished folds; the ablation table's places."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memamba_core.errors import InputError
from memamba_core.runs import (FoldMeta, RunFolder, RunPaths, Selection, ablation_row, ablation_table, finished_folds,
                               fold_metas, locate_fold, prediction_frame, read_fold_meta, read_oof, read_progress,
                               read_run_record, read_summary, run_kind, write_ablation_table, write_fold_meta)
from memamba_core.train.demo_model import shipped_demo_model

SHIPPED = shipped_demo_model("full")


def _fold(run: RunFolder, k: int, ids, *, kind: str = "cv", marker: bool = True) -> None:
    """A fold as the trainers write it: predictions, (cv) weights, and last its marker record."""
    surv = np.linspace(0.9, 0.2, 4 * len(ids)).reshape(len(ids), 4)
    frame = prediction_frame(ids, -surv.sum(axis=1), surv, fold=k, survival_months=[5.0 + i for i in range(len(ids))],
                             censorship=[i % 2 for i in range(len(ids))])
    run.write_fold_predictions(k, frame)
    cuts = (1.0 + k, 2.0 + k, 3.0 + k)
    if kind == "cv":
        run.fold(k).weights.write_bytes(b"weights")
        if marker:
            write_fold_meta(run.fold(k), FoldMeta(fold=k, model_config={"model": "snn"}, cuts=cuts, val_case_ids=tuple(ids),
                                                  metrics={"c_index": 0.5 + k / 10}))
    elif marker:
        run.write_selection(k, Selection(fold=k, chosen="a", inner_scores={"a": {"mean": 0.6, "inner": [0.6]}},
                                         metrics={"c_index": 0.7}, cuts=cuts, n_val=len(ids)))


@pytest.mark.parametrize("kind", ["cv", "nested"])
def test_finished_folds_and_rebuild_use_only_folds_whose_marker_was_written(tmp_path, kind):
    run = RunFolder(tmp_path / "run", kind=kind)
    record = {"folds": [{}, {}, {}], **({"procedure": "nested"} if kind == "nested" else {})}
    assert run.start(record) == []
    _fold(run, 0, ["a", "b"], kind=kind)
    _fold(run, 1, ["c"], kind=kind, marker=False)  # killed before its marker: not finished
    _fold(run, 2, ["d", "e"], kind=kind)
    assert run_kind(run.path) == kind and finished_folds(run.path) == [0, 2] == run.finished_folds()
    summary = run.rebuild(lambda records, oof: {"folds": [r.fold for r in records], "n": len(oof)})
    run.release()
    assert summary == {"folds": [0, 2], "n": 4} == read_summary(run.path)
    oof = read_oof(run.path)
    assert list(oof.frame.case_id) == ["a", "b", "d", "e"] and oof.survival.shape == (4, 4)
    assert sorted(oof.cuts) == [0, 2] and list(oof.cuts[2]) == [3.0, 4.0, 5.0]
    assert set(fold_metas(run.path)) == {0, 2}


def test_read_side_imports_neither_torch_nor_survival_libraries():
    code = (
        "import sys\n"
        "from memamba_core.runs import read_oof, read_summary, read_run_record, finished_folds, read_fold_meta, "
        "locate_fold, read_progress, ablation_table, fold_metas\n"
        f"run = {str(SHIPPED)!r}\n"
        "oof = read_oof(run); s = read_summary(run); r = read_run_record(run); m = read_fold_meta(locate_fold(run, 1))\n"
        "assert oof.survival.shape[1] == m.n_bins and s['complete'] and r.train and finished_folds(run)\n"
        "read_progress(run); ablation_table(run); fold_metas(run)\n"
        "heavy = [n for n in ('torch', 'lifelines', 'sksurv', 'sklearn') if n in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from memamba_core.runs import read_weights\n"
        "assert 'torch' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_shipped_demo_run_reads_through_the_owner():
    oof, summary, record = read_oof(SHIPPED), read_summary(SHIPPED), read_run_record(SHIPPED)
    n = record.cohort["n_patients"]
    assert len(oof.frame) == n and oof.survival.shape == (n, 4) and sorted(oof.cuts) == list(range(record.n_folds))
    assert (np.diff(oof.survival, axis=1) <= 1e-6).all()  # survival never rises
    np.testing.assert_allclose(oof.risk, -oof.survival.sum(axis=1), atol=1e-4)
    metas = fold_metas(SHIPPED)
    for k, meta in metas.items():
        assert set(oof.frame.case_id[oof.frame.fold == k]) == set(meta.val_case_ids)
        assert list(meta.val_case_ids) == record.folds[k]["val"] and meta.n_bins == 4
        assert meta.to_dict() == json.loads(RunPaths(SHIPPED).fold(k).meta.read_text())  # nothing lost on reading
    assert summary["complete"] and [f["fold"] for f in summary["folds"]] == sorted(metas)
    assert {r["event"] for r in read_progress(SHIPPED)} >= {"run_start", "fold_start", "epoch", "fold_end", "run_end"}


def test_locate_fold_accepts_every_way_of_naming_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SHIPPED, run)
    fold1 = RunPaths(run).fold(1)
    assert locate_fold(run) == RunPaths(run.resolve()).fold(0)
    assert locate_fold(run, 1).dir == locate_fold(fold1.dir).dir == locate_fold(fold1.weights).dir == locate_fold(fold1.meta).dir
    with pytest.raises(InputError, match="fold 9 is not finished there; finished folds: 0, 1, 2, 3, 4"):
        locate_fold(run, 9)
    with pytest.raises(InputError, match="fold=2 applies to run folders only"):
        locate_fold(fold1.dir, 2)
    with pytest.raises(InputError, match="not a checkpoint"):
        locate_fold(RunPaths(run).summary)
    with pytest.raises(InputError, match="no such checkpoint"):
        locate_fold(tmp_path / "nowhere")
    fold1.meta.write_text("{")
    with pytest.raises(InputError, match="corrupt or unreadable checkpoint metadata"):
        read_fold_meta(fold1)
    with pytest.raises(InputError, match="corrupt or unreadable checkpoint metadata"):
        read_oof(run)  # the table is only as good as the records that give its cut points


def _summary(c: float) -> dict:
    return {"mean": {"c_index": c, "ipcw_c_index": c - 0.01}, "std": {"c_index": 0.02, "ipcw_c_index": None},
            "folds": [{"fold": 0, "c_index": c}, {"fold": 1, "c_index": c + 0.01}]}


def test_ablation_table_is_found_from_the_ablation_folder_a_variant_a_fold_or_a_shipped_run(tmp_path):
    out = tmp_path / "ab"
    rows = [ablation_row("full", {}, _summary(0.7)), ablation_row("no_ot", {"ot": "off"}, _summary(0.65))]
    assert list(write_ablation_table(out, rows).variant) == ["full", "no_ot"]
    for v in ("full", "no_ot", "stray"):
        RunPaths(out).variant(v).fold(0).dir.mkdir(parents=True)
    table = ablation_table(out)
    assert list(table.variant) == ["full", "no_ot"] and list(table.columns[:4]) == ["variant", "changes", "c_index_mean", "c_index_std"]
    assert json.loads(table.changes[1]) == {"ot": "off"} and table.c_index_fold_1[0] == pytest.approx(0.71)
    assert np.isnan(table.ipcw_c_index_std[0])  # undefined stays blank, not 0
    for where in (out / "full", out / "no_ot", RunPaths(out).variant("no_ot").fold(0).dir):
        pd.testing.assert_frame_equal(ablation_table(where), table)
    assert ablation_table(out / "stray") is None  # a folder the table does not list is not one of its variants
    shipped = tmp_path / "shipped_run"
    shipped.mkdir()
    assert ablation_table(shipped) is None
    shutil.copy(RunPaths(out).ablations, RunPaths(shipped).ablations)  # the demo asset ships its table inside the run
    pd.testing.assert_frame_equal(ablation_table(RunPaths(shipped).fold(0).dir), table)


@pytest.mark.parametrize("text, message", [
    ("name,c_index_mean\nfull,0.7\n", "has no 'variant' column"),
    ("variant,c_index_mean\nfull,0.7\nfull,0.6\n", "variant\\(s\\) full appear twice"),
    ("variant,c_index_mean\nfull,inf\n", "column c_index_mean has non-numeric or infinite values \\(rows 2\\)"),
    ("variant,c_index_mean\nfull,high\n", "column c_index_mean has non-numeric"),
])
def test_a_damaged_ablation_table_names_the_file_and_the_fix(tmp_path, text, message):
    RunPaths(tmp_path).ablations.write_text(text)
    with pytest.raises(InputError, match=message):
        ablation_table(tmp_path)


def test_file_names_for_messages_are_the_layout_s(tmp_path):
    from memamba_core.runs import file_names

    names, run = file_names(), RunPaths(tmp_path)
    assert (names["oof"], names["summary"], names["ablations"]) == (run.oof.name, run.summary.name, run.ablations.name)
    assert (names["weights"], names["meta"], names["selection"]) == (run.fold(0).weights.name, run.fold(0).meta.name,
                                                                     run.fold(0).selection.name)


def test_readers_of_a_folder_without_outputs_yet(tmp_path):
    assert read_oof(tmp_path) is None and read_summary(tmp_path) is None and read_progress(tmp_path) == []
    assert read_run_record(tmp_path) is None and finished_folds(tmp_path) == [] and ablation_table(tmp_path) is None
    RunPaths(tmp_path).summary.write_text("[1, 2]")
    with pytest.raises(InputError, match="not a run summary"):
        read_summary(Path(tmp_path))
