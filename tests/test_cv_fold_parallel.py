"""Fold-parallel cross-validation under torchrun (``--parallel folds``): whole folds per rank over two CPU
processes (gloo) give the one-process run bit for bit; a killed rank's run resumes; the ablation grid shares the pool."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from memamba_core.errors import InputError
from memamba_core.runs import RunPaths, finished_folds, read_ablation_table, read_oof, read_progress, read_summary
from memamba_core.train.cv import parallel_mode
from memamba_core.train.distributed import Dist
from tests._train_cohort import make_cohort
from tests._torchrun import kill_rank_when, memamba, torchrun, torchrun_command

N_FOLDS = 4
ARGS = ["--epochs", "3", "--d-model", "16", "--set", "d_state=4", "--set", "n_layers=1", "--grad-accum", "4",
        "--folds", "generated", "--n-folds", str(N_FOLDS), "--num-threads", "1", "--no-progress",
        "--max-train-patches", "16", "--set", "dropout=0.2", "--eval-every", "1"]


def test_parallel_mode_choice():
    one, two = Dist(0, 1), Dist(0, 2)
    assert parallel_mode("folds", one, 5) == "data"  # one process: nothing to split
    assert parallel_mode("auto", two, 2) == "folds" and parallel_mode("auto", two, 1) == "data"
    assert parallel_mode("folds", two, 1) == "folds" and parallel_mode("data", two, 8) == "data"
    with pytest.raises(InputError, match="parallel='ranks' is not one of auto, folds, data"):
        parallel_mode("ranks", two, 4)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    # 16 patients, 8-d patch bags, three gene groups; survival learnable from both modalities. (The layout
    # fixtures of _cohort_fixtures encode coordinates in the features, up to 2e5: not a cohort to train on.)
    return make_cohort(tmp_path_factory.mktemp("fp") / "tiny", n=16)


@pytest.fixture(scope="module")
def one_process(cohort, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one") / "run"
    proc = memamba(["train", str(cohort), "--out", str(out), *ARGS])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _assert_same_run(run: Path, reference: Path) -> None:
    """Same out-of-fold predictions (every column, exactly) and the same summary as the reference run."""
    pd.testing.assert_frame_equal(read_oof(run).to_frame(), read_oof(reference).to_frame(), check_exact=True)
    assert read_summary(run) == read_summary(reference)
    assert finished_folds(run) == list(range(N_FOLDS))


@pytest.mark.slow
def test_two_ranks_train_whole_folds_like_one_process(cohort, one_process, tmp_path):
    proc = torchrun(["-m", "memamba_core.cli", "train", str(cohort), "--out", str(tmp_path), *ARGS, "--parallel", "folds"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_run(tmp_path, one_process)
    for k in range(N_FOLDS):  # the weights too, byte for byte
        paths = RunPaths(tmp_path).fold(k), RunPaths(one_process).fold(k)
        assert paths[0].weights.read_bytes() == paths[1].weights.read_bytes()
    prog = read_progress(tmp_path)
    starts = [r for r in prog if r["event"] == "run_start"]
    assert len(starts) == 1 and starts[0]["world"] == 2 and starts[0]["parallel"] == "folds"
    owners = {r["fold"]: r["rank"] for r in prog if r["event"] == "fold_end"}
    assert sorted(owners) == list(range(N_FOLDS)) and set(owners.values()) == {0, 1}  # each rank trained whole folds
    assert [r for r in prog if r["event"] == "epoch" and r["rank"] == 1]  # rank 1 logged its own folds
    assert proc.stdout.count("mean C-index") == 1  # rank 0 prints the summary


@pytest.mark.slow
def test_a_killed_rank_stops_the_run_and_a_rerun_resumes(cohort, one_process, tmp_path):
    cmd = torchrun_command(["-m", "memamba_core.cli", "train", str(cohort), "--out", str(tmp_path), *ARGS,
                            "--parallel", "folds"])
    returncode = kill_rank_when(cmd, lambda: bool(finished_folds(tmp_path)), rank=1, what="any fold finished")
    assert returncode != 0  # the other rank was stopped too
    done = finished_folds(tmp_path)
    assert 1 <= len(done) < N_FOLDS
    # the same command again: the finished folds are skipped, the rest trained, the run as one process makes it
    again = torchrun(["-m", "memamba_core.cli", "train", str(cohort), "--out", str(tmp_path), *ARGS, "--parallel", "folds"])
    assert again.returncode == 0, again.stderr[-3000:]
    _assert_same_run(tmp_path, one_process)
    resume = [r for r in read_progress(tmp_path) if r["event"] == "resume"]
    assert len(resume) == 1 and resume[0]["skipping"] == done
    ends = [r["fold"] for r in read_progress(tmp_path) if r["event"] == "fold_end"]
    assert sorted(set(ends)) == list(range(N_FOLDS)) and len(ends) == len(set(ends))  # no fold trained twice


@pytest.mark.slow
def test_ablation_cells_spread_over_ranks_match_one_process(cohort, tmp_path):
    args = ["--variants", "full", "no_ot", "genomics_only", *ARGS[:ARGS.index("--n-folds")], "--n-folds", "2",
            *ARGS[ARGS.index("--n-folds") + 2:]]
    one = memamba(["ablate", str(cohort), "--out", str(tmp_path / "one"), *args])
    assert one.returncode == 0, one.stderr[-3000:]
    two = torchrun(["-m", "memamba_core.cli", "ablate", str(cohort), "--out", str(tmp_path / "two"), *args])  # auto: 6 cells
    assert two.returncode == 0, two.stderr[-3000:]
    t1, t2 = RunPaths(tmp_path / "one").ablations, RunPaths(tmp_path / "two").ablations
    assert t1.read_bytes() == t2.read_bytes()
    owners = set()
    for v in ("full", "no_ot", "genomics_only"):
        a, b = RunPaths(tmp_path / "one").variant(v).root, RunPaths(tmp_path / "two").variant(v).root
        pd.testing.assert_frame_equal(read_oof(b).to_frame(), read_oof(a).to_frame(), check_exact=True)
        assert read_summary(b) == read_summary(a)
        prog = read_progress(b)
        assert [r["parallel"] for r in prog if r["event"] == "run_start"] == ["folds"]
        owners |= {r["rank"] for r in prog if r["event"] == "fold_end"}
    assert owners == {0, 1}
    assert list(read_ablation_table(t2)["variant"]) == ["full", "no_ot", "genomics_only"]


def test_another_ranks_failure_is_a_message_and_exit_status_1(tmp_path, monkeypatch, capsys):
    import memamba_core.train.cv as cv
    from memamba_core.cli import main
    from memamba_core.sharding import ShardAborted

    def stopped(*args, **kwargs):
        raise ShardAborted("rank 1 stopped: RuntimeError: disk full; this rank stopped after its current item; "
                           "rerun to resume.")

    monkeypatch.setattr(cv, "train_cv", stopped)
    assert main(["train", str(make_cohort(tmp_path / "c", n=8)), "--out", str(tmp_path / "run"), *ARGS]) == 1
    err = capsys.readouterr().err
    assert "memamba train: stopped: rank 1 stopped: RuntimeError: disk full" in err and "Traceback" not in err

    def broken(*args, **kwargs):
        raise RuntimeError("a bug, not another rank")

    monkeypatch.setattr(cv, "train_cv", broken)
    with pytest.raises(RuntimeError, match="a bug"):  # other errors are not dressed up as a stopped rank
        main(["train", str(tmp_path / "c"), "--out", str(tmp_path / "run2"), *ARGS])
