"""Nested selection: candidates scored on inner folds of each training fold; the validation fold read only at the end."""


import json
import shutil

import numpy as np
import pandas as pd
import pytest

from memamba_core.cli import main as cli_main
from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.runs import RunFolder, RunPaths, finished_folds, read_calibration, read_oof, read_progress, read_selection, read_summary
from memamba_core.train import nested, train_cv
from memamba_core.train.nested import train_nested
from memamba_core.train.scoring import CROSS_FOLD_SOURCE, calibrate_stored
from tests._train_cohort import make_cohort, tiny_train, one_thread  # one_thread: autouse fixture

SPLITS = [(list(range(0, 20)), list(range(20, 28))), (list(range(8, 28)), list(range(0, 8)))]


def _candidate(**changes):
    return tiny_train(**{"model": dict(modalities="genomics", dropout=0.1), "folds": "splits", "epochs": 2, **changes})


GRID = {"dense": _candidate(), "sparse": _candidate(l1_genomic=0.5, epochs=3)}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return load_cohort(make_cohort(tmp_path_factory.mktemp("c") / "gen", n=28, pathology=False, splits=SPLITS))


@pytest.fixture(scope="module")
def nested_run(cohort, tmp_path_factory):
    """The procedure run once, with every (train ids, held-out ids) pair it prepared recorded in order."""
    seen = []
    real = nested.prepare_fold
    mp = pytest.MonkeyPatch()
    mp.setattr(nested, "prepare_fold", lambda c, cfg, m, tr, va: seen.append((set(tr), set(va))) or real(c, cfg, m, tr, va))
    out = tmp_path_factory.mktemp("n") / "run"
    try:
        summary = train_nested(cohort, GRID, out, n_inner=2, inner_seeds=1, ensemble=2)
    finally:
        mp.undo()
    return summary, out, seen


@pytest.mark.slow
def test_the_validation_fold_is_read_only_after_the_choice(cohort, nested_run):
    _, _, seen = nested_run
    assert len(seen) == 2 * (2 + 1)  # per outer fold: its 2 inner folds (shared by the candidates), then the final fit
    for k, split in enumerate(cohort.splits):
        train, val = set(split.train), set(split.val)
        *inner, final = seen[3 * k : 3 * k + 3]
        assert final == (train, val)
        for tr, va in inner:
            assert tr | va == train and not tr & va
        assert inner[0][1] | inner[1][1] == train  # every training patient held out once
        events = [sum(cohort.patient(c).event for c in va) for _, va in inner]
        assert abs(events[0] - events[1]) <= 1  # stratified by event


@pytest.mark.slow
def test_run_folder_records_the_choice_and_every_inner_score(nested_run):
    summary, out, _ = nested_run
    assert summary["complete"] and summary["n_folds_finished"] == 2 and summary["candidates"] == ["dense", "sparse"]
    for f in summary["folds"]:
        sel = read_selection(RunPaths(out).fold(f["fold"]))
        assert set(sel.inner_scores) == {"dense", "sparse"}
        assert all(len(s["inner"]) == 2 for s in sel.inner_scores.values())
        best = max(sel.inner_scores, key=lambda n: sel.inner_scores[n]["mean"])
        assert sel.chosen == best == f["chosen"]
        assert len(sel.member_c_index) == 2
    assert summary["mean_c_index"] == pytest.approx(np.mean([f["c_index"] for f in summary["folds"]]))
    oof = read_oof(out)
    assert sorted(oof.frame.case_id) == sorted(f"P{i:03d}" for i in [*range(20, 28), *range(0, 8)])
    np.testing.assert_allclose(oof.risk, -oof.survival.sum(axis=1), atol=1e-5)
    assert finished_folds(out) == [0, 1] and sorted(oof.cuts) == [0, 1]
    events = [r["event"] for r in read_progress(out)]
    assert events.count("inner") == 2 * 2 and events.count("fold_end") == 2


@pytest.mark.slow
def test_an_ensemble_member_is_the_fold_memamba_train_trains(cohort, tmp_path):
    """ensemble = 1: the final model of fold k is fold k of ``train_cv`` with the chosen config and seed 0."""
    grid = {"only": _candidate(l1_genomic=0.5)}
    summary = train_nested(cohort, grid, tmp_path / "n", n_inner=2, ensemble=1)
    train_cv(cohort, grid["only"], tmp_path / "cv", progress=False)
    a, b = read_oof(tmp_path / "n"), read_oof(tmp_path / "cv")
    assert list(a.frame.case_id) == list(b.frame.case_id)
    np.testing.assert_allclose(a.risk, b.risk, rtol=1e-5, atol=1e-6)
    assert summary["folds"][0]["c_index"] == pytest.approx(read_summary(tmp_path / "cv")["folds"][0]["c_index"])


@pytest.mark.slow
def test_rerun_resumes_and_another_grid_is_refused(cohort, nested_run, tmp_path):
    summary, out, _ = nested_run
    before = RunPaths(out).fold(0).selection.read_bytes()
    again = train_nested(cohort, GRID, out, n_inner=2, inner_seeds=1, ensemble=2)
    assert again["folds"] == summary["folds"] and RunPaths(out).fold(0).selection.read_bytes() == before
    with pytest.raises(InputError, match="different configuration"):
        train_nested(cohort, {"dense": GRID["dense"]}, out, n_inner=2, inner_seeds=1, ensemble=2)


@pytest.mark.slow
def test_a_finished_nested_run_is_calibrated_without_weights(cohort, nested_run, tmp_path):
    """Each fold keeps its final model's risks of its own training patients; the run's out-of-fold predictions are
    calibrated from them (the other folds' predictions, never fold k's own outcomes) and the summary says how the
    calibrated curves compare with the Kaplan–Meier null."""
    summary, out, _ = nested_run
    for k, split in enumerate(cohort.splits):
        sel = read_selection(RunPaths(out).fold(k))
        assert len(sel.reference_risk) == len(split.train) == sel.n_train and np.isfinite(sel.reference_risk).all()
    cal = read_calibration(out)
    assert cal is not None and cal.folds == (0, 1) and cal.source == CROSS_FOLD_SOURCE
    q = summary["calibrated"]
    assert [f["fold"] for f in q["folds"]] == [0, 1] and q["mean"]["n"] == 16
    assert all(f["vs_km"] in {"better", "worse", "within noise", "undefined"} for f in q["folds"])
    assert [r for r in read_progress(out) if r["event"] == "calibration"][-1]["ok"]
    assert read_summary(out)["calibrated"] == q
    # fold 0's map is fitted on fold 1's patients only: moving fold 0's validation outcomes leaves it unchanged
    run = tmp_path / "moved"
    shutil.copytree(out, run)
    oof = pd.read_csv(RunPaths(run).oof, dtype={"case_id": str})
    oof.loc[oof.fold == 0, "survival_months"] = oof.loc[oof.fold == 0, "survival_months"][::-1].to_numpy() * 1.7
    oof.to_csv(RunPaths(run).oof, index=False)
    moved = calibrate_stored(run)
    assert moved[0].fit.beta == pytest.approx(cal.maps[0].fit.beta)
    np.testing.assert_allclose(moved[0].survival([0.0], [2.0]), cal.maps[0].survival([0.0], [2.0]))
    assert moved[1].fit.beta != pytest.approx(cal.maps[1].fit.beta)  # fold 1's map is fitted on fold 0's patients


@pytest.mark.slow
def test_memamba_calibrate_on_a_nested_run(cohort, nested_run, tmp_path, capsys):
    summary, out, _ = nested_run
    run = tmp_path / "run"
    shutil.copytree(out, run)
    RunPaths(run).calibration.unlink()
    RunPaths(run).calibrated_oof.unlink()
    RunFolder(run, kind="nested").write_summary({k: v for k, v in summary.items() if k != "calibrated"})
    assert cli_main(["calibrate", str(run), str(cohort.root)]) == 0
    text = capsys.readouterr().out
    assert "fold 1: slope" in text and "Kaplan–Meier null" in text and str(RunPaths(run).summary) in text
    assert read_summary(run)["calibrated"] == summary["calibrated"]
    assert read_calibration(run).folds == (0, 1) and RunPaths(run).calibrated_oof.is_file()


@pytest.mark.slow
def test_nested_calibration_refuses_what_it_cannot_do_honestly(cohort, nested_run, tmp_path):
    _, out, _ = nested_run
    old = tmp_path / "old"
    shutil.copytree(out, old)
    sel = json.loads(RunPaths(old).fold(1).selection.read_text())
    del sel["reference_risk"]  # a fold trained before reference risks were kept
    RunPaths(old).fold(1).selection.write_text(json.dumps(sel))
    with pytest.raises(InputError, match=r"fold\(s\) 1 were trained before reference risks were kept; rerun them"):
        calibrate_stored(old)
    cv = tmp_path / "cv"
    train_cv(cohort, GRID["dense"], cv, progress=False)
    with pytest.raises(InputError, match="not a nested run"):
        calibrate_stored(cv)
    overlap = tmp_path / "overlap"
    shutil.copytree(out, overlap)
    oof = pd.read_csv(RunPaths(overlap).oof, dtype={"case_id": str})
    pd.concat([oof, oof[oof.fold == 0].head(2).assign(fold=1)]).to_csv(RunPaths(overlap).oof, index=False)
    with pytest.raises(InputError, match=r"duplicated row\(s\) for patient\(s\) P020, P021"):  # validated twice
        calibrate_stored(overlap)


def test_bad_grids_and_settings_are_refused(cohort, tmp_path):
    with pytest.raises(InputError, match="grid is empty"):
        train_nested(cohort, {}, tmp_path / "a")
    with pytest.raises(InputError, match="share the folds"):
        train_nested(cohort, {"a": _candidate(), "b": _candidate(n_bins=3)}, tmp_path / "b")
    with pytest.raises(InputError, match="other modalities"):
        train_nested(cohort, {"a": _candidate(), "b": tiny_train(folds="splits")}, tmp_path / "c")  # pathology too
    with pytest.raises(InputError, match="n_inner"):
        train_nested(cohort, GRID, tmp_path / "d", n_inner=1)
    assert not (tmp_path / "a").exists() and not (tmp_path / "d").exists()
