"""Two CPU processes under torchrun (gloo + DistributedDataParallel) give the same run as one process."""

import json

import numpy as np
import pandas as pd
import pytest

from memamba_core.cli import main
from memamba_core.train.distributed import Dist, init_distributed
from tests._train_cohort import make_cohort, train_two_processes, one_thread  # one_thread: autouse fixture

ARGS = ["--epochs", "2", "--d-model", "16", "--set", "d_state=4", "--set", "n_layers=1", "--grad-accum", "4",
        "--folds", "generated", "--n-folds", "2", "--num-threads", "1", "--no-progress", "--max-train-patches", "16",
        "--set", "dropout=0.2", "--eval-every", "1"]


def test_single_process_without_torchrun_env(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    d = init_distributed()
    assert d == Dist(0, 1, d.device) and d.is_main and not d.active
    assert d.sum([1.0, 2.0]) == [1.0, 2.0] and d.gather("x") == ["x"] and d.broadcast(3) == 3


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    cohort = make_cohort(tmp_path / "tiny", n=14)
    assert main(["train", str(cohort), "--out", str(tmp_path / "one"), *ARGS]) == 0
    proc = train_two_processes(cohort, tmp_path / "two", ARGS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = pd.read_csv(tmp_path / "one" / "oof_predictions.csv")
    two = pd.read_csv(tmp_path / "two" / "oof_predictions.csv")
    assert list(one.case_id) == list(two.case_id)
    np.testing.assert_allclose(two.risk, one.risk, atol=1e-4)
    np.testing.assert_allclose(two[["S_1", "S_2", "S_3", "S_4"]], one[["S_1", "S_2", "S_3", "S_4"]], atol=1e-4)
    # only rank 0 wrote: one run_start line, and the log says two processes took part
    prog = [json.loads(x) for x in (tmp_path / "two" / "progress.jsonl").read_text().splitlines()]
    starts = [r for r in prog if r["event"] == "run_start"]
    assert len(starts) == 1 and starts[0]["world"] == 2
    l1 = [r["loss"] for r in map(json.loads, (tmp_path / "one" / "progress.jsonl").read_text().splitlines()) if r["event"] == "epoch"]
    l2 = [r["loss"] for r in prog if r["event"] == "epoch"]
    np.testing.assert_allclose(l2, l1, rtol=1e-4)  # all-reduced loss statistics
