"""Two CPU processes under torchrun (gloo + DistributedDataParallel) give the same run as one process."""


import numpy as np
import pytest

from memamba_core.runs import read_progress
from memamba_core.train.distributed import Dist, init_distributed
from tests._train_cohort import assert_two_processes_match_one, make_cohort, one_thread  # one_thread: autouse fixture

ARGS = ["--epochs", "2", "--d-model", "16", "--set", "d_state=4", "--set", "n_layers=1", "--grad-accum", "4",
        "--folds", "generated", "--n-folds", "2", "--num-threads", "1", "--no-progress", "--max-train-patches", "16",
        "--set", "dropout=0.2", "--eval-every", "1", "--parallel", "data"]  # data parallelism (fold-parallel: test_cv_fold_parallel.py)


def test_single_process_without_torchrun_env(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    d = init_distributed()
    assert d == Dist(0, 1, d.device) and d.is_main and not d.active
    assert d.sum([1.0, 2.0]) == [1.0, 2.0] and d.gather("x") == ["x"] and d.broadcast(3) == 3


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    cohort = make_cohort(tmp_path / "tiny", n=14)
    one, two = assert_two_processes_match_one(cohort, tmp_path, ARGS)
    np.testing.assert_allclose(two[["S_1", "S_2", "S_3", "S_4"]], one[["S_1", "S_2", "S_3", "S_4"]], atol=1e-4)
    # only rank 0 wrote: one run_start line, and the log says two processes took part
    prog = read_progress(tmp_path / "two")
    starts = [r for r in prog if r["event"] == "run_start"]
    assert len(starts) == 1 and starts[0]["world"] == 2
    l1 = [r["loss"] for r in read_progress(tmp_path / "one") if r["event"] == "epoch"]
    l2 = [r["loss"] for r in prog if r["event"] == "epoch"]
    np.testing.assert_allclose(l2, l1, rtol=1e-4)  # all-reduced loss statistics
