"""memamba_core.app: what the dashboard pages show, as plain Python (tables, run files, cards, runs, jobs)."""

import dataclasses
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memamba_core.app import (ablation_table, apply_filters, compatibility_problems, filter_options, fold_card,
                              held_out_default, jobs, model_frame, oof_predictions, percentile_of, progress_records,
                              run_dir_of, run_progress, run_stamp, run_summary, scored_out_of_fold, summary_metrics,
                              survival_matrix, train_args, with_clinical)
from memamba_core.errors import InputError
from memamba_core.runs import RunPaths
from tests._train_cohort import make_cohort

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "demo-model-full"


@pytest.fixture()
def frame():
    return pd.DataFrame({
        "case_id": ["a", "b", "c", "d"], "risk": [0.1, 0.5, 0.9, 0.3],
        "S_1": [0.9, 0.8, 0.7, 0.95], "S_2": [0.8, 0.6, 0.4, 0.9],
        "survival_months": [10, 20, 5, 30], "event": [1, 0, 1, 0], "in_training": [True, False, False, True],
    })


def test_with_clinical_and_filters(frame):
    clin = pd.DataFrame({"oncotree_code": ["BLCA", "BLCA", "LUAD", "LUAD"], "site": ["x", "y", "x", None],
                         "age": [50, 60, 70, np.nan], "is_female": [1, 0, 1, 0], "event": [9, 9, 9, 9]},
                        index=pd.Index(["a", "b", "c", "d"], name="case_id"))
    df = with_clinical(frame, clin)
    assert df["event"].tolist() == [1, 0, 1, 0]  # predictions' own columns win
    opts = filter_options(df)
    assert opts["oncotree_code"] == ["BLCA", "LUAD"] and opts["age"] == (50, 70) and opts["is_female"]
    f = apply_filters
    assert f(df, cancer_types=["LUAD"])["case_id"].tolist() == ["c", "d"]
    assert f(df, sites=["x"])["case_id"].tolist() == ["a", "c"]
    assert f(df, age=(50, 70))["case_id"].tolist() == ["a", "b", "c", "d"]  # full range keeps unknown ages
    assert f(df, age=(55, 70))["case_id"].tolist() == ["b", "c"]
    assert f(df, sex="female")["case_id"].tolist() == ["a", "c"]
    assert f(df, held_out_only=True)["case_id"].tolist() == ["b", "c"]
    assert f(df, cancer_types=["BLCA"], sex="male")["case_id"].tolist() == ["b"]
    assert not held_out_default(df) and held_out_default(df, minimum=2)


def test_percentile_and_survival_matrix(frame):
    assert percentile_of(0.5, frame["risk"]) == pytest.approx(62.5)
    assert percentile_of(2.0, frame["risk"]) == 100
    assert np.isnan(percentile_of(1.0, []))
    frame["S_3"] = 0.1
    m = survival_matrix(frame[[c for c in frame.columns if c != "S_1"] + ["S_1"]])  # bin order, not column order
    assert m.shape == (4, 3) and m[0].tolist() == [0.9, 0.8, 0.1]
    frame["S_10"] = 0.05  # a gap in the bins: not a table memamba wrote
    with pytest.raises(InputError, match="not S_1 … S_K"):
        survival_matrix(frame)


def test_out_of_fold_rows_of_the_cohort():
    oof = oof_predictions(SHIPPED)
    assert oof["case_id"].map(type).eq(str).all() and len(oof) == 104
    mine = scored_out_of_fold(oof, ["DEMO-0001", "DEMO-0002", "NOT-IN-RUN"])
    assert sorted(mine["case_id"]) == ["DEMO-0001", "DEMO-0002"]
    assert (mine["event"] == 1 - mine["censorship"]).all() and not mine["in_training"].any()
    assert scored_out_of_fold(oof, ["OTHER"]) is None and scored_out_of_fold(None, ["x"]) is None


def test_fold_card_from_meta_without_the_model():
    card = fold_card(SHIPPED)  # a run folder: its first fold
    assert card.path == SHIPPED / "fold_0" and card.fold == 0 and card.model == "memamba" and card.modalities == "both"
    assert card.uses_pathology and card.feature_dim == 256 and card.uses_genomics and len(card.group_names) == 10
    assert card.n_bins == 4 and card.n_val + card.n_train == 104
    assert fold_card(RunPaths(SHIPPED).fold(2).weights).fold == 2
    assert run_dir_of(SHIPPED / "fold_2") == SHIPPED == run_dir_of(SHIPPED)
    frame = model_frame(card, []).set_index("item")["value"]
    assert frame["fits this cohort"] == "yes" and "cuts 1.9, 5.1, 14.4" in frame["time bins (K)"]
    assert model_frame(card, None).set_index("item")["value"]["fits this cohort"].startswith("not checked")
    assert model_frame(card, ["x", "y"]).set_index("item")["value"]["fits this cohort"].startswith("no: 2 problem")


def test_fold_card_of_a_damaged_or_missing_checkpoint(tmp_path):
    with pytest.raises(InputError, match="holds no finished fold"):
        fold_card(tmp_path)
    bad = RunPaths(tmp_path / "run").fold(0)
    bad.dir.mkdir(parents=True)
    bad.meta.write_text("{not json")
    with pytest.raises(InputError, match=rf"fold_0/{bad.meta.name}: corrupt or unreadable"):
        fold_card(tmp_path / "run")
    bad.meta.write_text('{"format": "memamba-fold", "model_config": {}, "fold": 0}')
    with pytest.raises(InputError, match="lacks 'cuts'"):
        fold_card(bad.dir)


def test_run_summary_and_headline_metrics(tmp_path):
    summary = run_summary(SHIPPED)
    head = summary_metrics(summary)
    assert head["folds"] == "5" and head["mean C-index"].startswith(f"{summary['mean']['c_index']:.3f} ± ")
    assert head["pooled out-of-fold C-index"].startswith(f"{summary['pooled_c_index']['value']:.3f} (")
    assert run_summary(tmp_path) is None and summary_metrics(None) == {}


def test_ablation_table_beside_or_above_the_run(tmp_path):
    out = tmp_path / "abl"
    (out / "full").mkdir(parents=True)
    assert ablation_table(out / "full") is None
    RunPaths(out).ablations.write_text("variant,c_index_mean\nfull,0.7\n")
    assert ablation_table(out / "full")["variant"].tolist() == ["full"]  # a variant of `memamba ablate --out abl`
    RunPaths(out / "full").ablations.write_text("variant,c_index_mean\nshipped,0.6\n")
    assert ablation_table(out / "full")["variant"].tolist() == ["shipped"]  # a table inside the run comes first
    RunPaths(out / "full").ablations.write_text('variant\n"unclosed\n')
    with pytest.raises(InputError, match="cannot be read as an ablation table"):
        ablation_table(out / "full")


def test_oof_predictions_that_cannot_be_used(tmp_path):
    RunPaths(tmp_path).oof.write_text("case_id,risk\na,1.0\n")
    with pytest.raises(InputError, match="censorship"):
        oof_predictions(tmp_path)
    assert oof_predictions(tmp_path / "none") is None


def test_run_stamp_changes_when_a_run_file_is_rewritten(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SHIPPED, run)
    before = run_stamp(run)
    assert before == run_stamp(run / "fold_0")
    time.sleep(0.01)
    RunPaths(run).summary.write_text(json.dumps({**run_summary(run), "complete": True}, indent=2))
    assert run_stamp(run) != before


def test_progress_records_skip_a_torn_line(tmp_path):
    RunPaths(tmp_path).progress.write_text('{"event": "run_start", "folds": 2}\n[1, 2]\n{"event": "fold_end", "fo')
    assert progress_records(tmp_path) == [{"event": "run_start", "folds": 2}]
    assert progress_records(tmp_path / "none") == []


def test_progress_from_records():
    assert run_progress([]) == (0.0, "starting…")
    recs = [{"event": "run_start", "folds": 4, "skipping": [0]}, {"event": "fold_start", "fold": 1},
            {"event": "epoch", "fold": 1, "epoch": 2, "epochs": 4, "loss": 0.5}]
    frac, msg = run_progress(recs)
    assert frac == pytest.approx(0.25 + 0.5 / 4) and "fold 1 epoch 2/4" in msg and "loss 0.500" in msg
    recs.append({"event": "fold_end", "fold": 1})
    assert run_progress(recs)[0] == pytest.approx(0.5)
    assert run_progress(recs + [{"event": "run_end"}])[0] == 1.0


def test_home_lists_the_same_problems_prediction_raises(tmp_path):
    """One compatibility check: Home's list is training's and prediction's (memamba_core.train.compat), every problem."""
    from memamba_core.data import load_cohort
    from memamba_core.runs import read_fold_meta
    from memamba_core.train import compatibility_problems as train_problems, predict_cohort, load_checkpoint

    cohort = load_cohort(make_cohort(tmp_path / "c", n=8))  # 8-wide features, gene groups A, B, C — not the demo's
    card = fold_card(SHIPPED)
    problems = compatibility_problems(card, cohort)
    expected = train_problems(cohort, read_fold_meta(card.path))
    assert problems == [p.message for p in expected]
    assert {p.kind for p in expected} >= {"feature_width", "gene_groups"}
    assert "256-dim" in problems[0] and "8-dim" in problems[0]
    loaded = load_checkpoint(SHIPPED)
    assert [p.kind for p in train_problems(cohort, loaded)] == [p.kind for p in expected]  # the loaded model: the same
    with pytest.raises(InputError, match=f"{len(problems)} problems") as err:
        predict_cohort(loaded, cohort)
    assert str(err.value).count("\n  - ") == len(problems)
    demo_like = fold_card(SHIPPED)
    assert model_frame(demo_like, problems).set_index("item")["value"]["fits this cohort"] == f"no: {len(problems)} problem(s), listed below"


def test_job_lifecycle(tmp_path):
    py = [sys.executable, "-c"]
    job = jobs.start(["import time,sys; print('hello', flush=True); time.sleep(30)"], tmp_path / "r1", program=py)
    assert jobs.state(job) == "running"
    assert jobs.load(tmp_path / "r1").pid == job.pid  # found again after a reload
    with pytest.raises(InputError, match="already running"):
        jobs.start(["print(1)"], tmp_path / "r1", program=py)
    end = time.time() + 10
    while "hello" not in jobs.tail(job.log_path) and time.time() < end:
        time.sleep(0.05)
    assert "hello" in jobs.tail(job.log_path)
    jobs.stop(job, timeout=5)
    assert jobs.state(jobs.load(tmp_path / "r1")) == "stopped"
    ok = jobs.start(["print('done')"], tmp_path / "r2", program=py)
    bad = jobs.start(["raise SystemExit(3)"], tmp_path / "r3", program=py)
    assert _wait(ok, "finished") == "finished" and _wait(bad, "failed") == "failed"
    assert jobs.load(tmp_path / "r3").returncode == 3
    assert [j.run_dir for j in jobs.find(tmp_path)][0].endswith("r3")
    assert jobs.find(tmp_path / "nope") == [] and jobs.tail(tmp_path / "nope.log") == ""


def _wait(job, want, timeout=10):
    end = time.time() + timeout
    while time.time() < end and jobs.state(job) != want:
        time.sleep(0.05)
    return jobs.state(job)


def test_train_args_parse_with_the_real_cli():
    from memamba_core.cli import build_parser

    args = train_args("/c", "/r", model="snn", modalities="genomics", epochs=2, n_folds=3, lr=1e-3, seed=4, d_model=32)
    assert args[:2] == ["train", "/c"] and args[args.index("--out") + 1] == "/r"
    ns = build_parser().parse_args(args)
    assert (str(ns.cohort), str(ns.out), ns.model_name, ns.modalities, ns.epochs, ns.n_folds, ns.seed, ns.d_model) == \
        ("/c", "/r", "snn", "genomics", 2, 3, 4, 32)


def test_reading_the_run_imports_neither_torch_nor_survival_libraries():
    code = (
        "import sys; from memamba_core.app import fold_card, oof_predictions, run_summary, summary_metrics, model_frame;"
        f"c = fold_card({str(SHIPPED)!r}); oof_predictions(c.path.parent); summary_metrics(run_summary(c.path.parent));"
        "model_frame(c, []);"
        "heavy = [m for m in ('torch', 'lifelines', 'sksurv', 'streamlit') if m in sys.modules]; assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
