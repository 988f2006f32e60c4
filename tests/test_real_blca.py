"""Real data (issue 5): genomics-only on TCGA-BLCA's five published splits, mean validation C-index ≥ 0.60.

The score comes from ``benchmarks/blca_genomics.py``: for each published split,
a small fixed grid is scored on inner stratified folds of its *training*
patients only, the winner's 10-seed ensemble is retrained on the training fold
and scored on the published validation fold (see ``docs/results_blca.md``). The
full procedure (~13 min on two shared cores) is recorded in
``benchmarks/results/blca_genomics.json`` (mean 0.6165).

CI reruns the whole procedure on one published split (fold 0, ~2.5 min) as a
user would, and checks that it reproduces the recorded fold — the chosen
candidate, every candidate's inner scores and the validation C-index — so the
recorded five-fold mean, asserted ≥ 0.60 here, is what the code produces. Set
``MEMAMBA_BLCA_FOLDS="0 1 2 3 4"`` to rerun all five folds and assert the line on
the fresh mean. Also checks that the score was earned honestly: the published
splits, training-only time bins, every candidate reporting its last epoch.
Skipped only when the cohort folder is absent (``$MEMAMBA_BLCA`` or
``../shared/data/tcga_blca``).
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memamba_core.runs import RunPaths, read_fold_predictions, read_run_record, read_selection

REPO = Path(__file__).resolve().parents[1]
COHORT = Path(os.environ.get("MEMAMBA_BLCA", REPO.parent / "shared" / "data" / "tcga_blca"))
RECORDED = REPO / "benchmarks" / "results" / "blca_genomics.json"
FOLDS = [int(k) for k in os.environ.get("MEMAMBA_BLCA_FOLDS", "0").split()]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (COHORT / "signatures.csv").is_file(), reason=f"TCGA-BLCA cohort not found at {COHORT}"),
]


def _benchmark():
    spec = importlib.util.spec_from_file_location("blca_genomics", REPO / "benchmarks" / "blca_genomics.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def recorded():
    return json.loads(RECORDED.read_text())


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("blca")
    cmd = [sys.executable, "benchmarks/blca_genomics.py", "--cohort", str(COHORT), "--out", str(tmp / "run"),
           "--json", str(tmp / "result.json"), "--folds", *map(str, FOLDS)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp / "result.json").read_text()), tmp / "run"


def _published_splits():
    out = []
    for k in range(5):
        s = pd.read_csv(COHORT / f"splits_{k}.csv")
        out.append((list(s["train"].dropna()), list(s["val"].dropna())))
    return out


def test_recorded_result_of_the_current_procedure_clears_the_acceptance_line(recorded):
    bench = _benchmark()
    assert recorded["complete"] and [f["fold"] for f in recorded["folds"]] == [0, 1, 2, 3, 4]
    assert [f["n"] for f in recorded["folds"]] == [75, 75, 75, 74, 74]
    # the record is of the procedure as the benchmark defines it now
    assert recorded["base_args"] == bench.BASE_ARGS and recorded["axes"] == bench.AXES
    assert (recorded["n_inner"], recorded["inner_seeds"], recorded["ensemble"]) == (bench.N_INNER, bench.INNER_SEEDS, bench.ENSEMBLE)
    assert list(recorded["candidates"]) == list(bench.candidates())
    for f in recorded["folds"]:
        scores = {k: v["mean"] for k, v in f["inner_scores"].items()}
        assert list(scores) == list(bench.candidates())
        assert f["chosen"] == max(scores, key=scores.get)  # chosen on the inner folds alone
        assert len(f["member_c_index"]) == bench.ENSEMBLE
    c = [f["c_index"] for f in recorded["folds"]]
    assert recorded["mean_c_index"] == pytest.approx(np.mean(c), abs=1e-4)
    assert recorded["mean_c_index"] >= 0.60, f"per fold {c}"
    assert recorded["mean_c_index"] >= recorded["references"]["elastic-net Cox (genomics)"]
    assert recorded["mean_c_index"] >= recorded["references"]["SNN (MCAT repository, genomics)"] + 0.05


def test_rerun_reproduces_the_recorded_folds(fresh, recorded):
    res, _ = fresh
    assert [f["fold"] for f in res["folds"]] == FOLDS
    for f in res["folds"]:
        rec = recorded["folds"][f["fold"]]
        assert f["chosen"] == rec["chosen"], f["fold"]
        for name, s in f["inner_scores"].items():
            assert s["mean"] == pytest.approx(rec["inner_scores"][name]["mean"], abs=0.005), (f["fold"], name)
        assert f["c_index"] == pytest.approx(rec["c_index"], abs=0.005), f["fold"]
    if len(FOLDS) == 5:  # the whole procedure ran: the line on the fresh mean
        assert res["complete"] and res["mean_c_index"] >= 0.60, f"per fold {[f['c_index'] for f in res['folds']]}"


def test_scored_on_the_published_splits_with_nothing_selected_on_them(fresh):
    _, out = fresh
    record = read_run_record(out)
    assert record.kind == "nested"
    for cfg in record.grid.values():
        assert cfg["selection"] == "last" and cfg["model"]["modalities"] == "genomics"
    splits = _published_splits()
    assert [(set(f["train"]), set(f["val"])) for f in record.folds] == [(set(t), set(v)) for t, v in splits]
    labels = pd.read_csv(COHORT / "tcga_blca_all_clean.csv.gz", usecols=["case_id", "survival_months", "censorship"]).drop_duplicates("case_id").set_index("case_id")
    for k in FOLDS:
        train, val = splits[k]
        sel = read_selection(RunPaths(out).fold(k))
        assert set(sel.val_case_ids) == set(val) and sel.n_train == len(train)
        assert set(read_fold_predictions(out, k).frame.case_id) == set(val)
        # time bins: quartiles of the uncensored *training* times only
        tr = labels.loc[train]
        np.testing.assert_allclose(sel.cuts, np.quantile(tr.survival_months[tr.censorship == 0], [0.25, 0.5, 0.75]))
