"""Nested selection: candidates scored on inner folds of each training fold; the validation fold read only at the end."""


import numpy as np
import pytest

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.runs import RunPaths, finished_folds, read_oof, read_progress, read_selection, read_summary
from memamba_core.train import nested, train_cv
from memamba_core.train.nested import train_nested
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
