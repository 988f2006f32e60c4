"""``memamba benchmark`` resumes after a kill, and under torchrun splits the cells over two ranks (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from memamba_core.runs import RunPaths, finished_folds
from tests._cohort_fixtures import make_survpath_cohort
from tests._torchrun import clean_env, memamba, torchrun

pytestmark = pytest.mark.slow

MODELS = ["memamba_genomics", "snn", "coxnet"]
OPTIONS = ["--models", *MODELS, "--epochs", "15", "--ensemble", "2", "--d-model", "8", "--n-boot", "50", "--no-progress"]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lb")
    root = make_survpath_cohort(tmp, n_patients=40, n_genes=16)
    toml = tmp / "cohort.toml"
    toml.write_text(f'name = "tiny STAD"\nroot = "{root}"\n')
    return f"{toml}@os,dss"


@pytest.fixture(scope="module")
def one_process(cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "lb"
    proc = memamba(["benchmark", cohort, "--out", str(out), *OPTIONS])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _markers(out: Path) -> dict[str, int]:
    """Every finished fold's marker file → its modification time (ns)."""
    found = {}
    for cell in sorted((out / "cells").glob("*")) if (out / "cells").is_dir() else []:
        for k in finished_folds(cell, "nested"):
            p = RunPaths(cell).fold(k).selection
            found[str(p.relative_to(out))] = p.stat().st_mtime_ns
    return found


def _table(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "leaderboard.csv").set_index(["endpoint", "model"]).sort_index()


def test_a_killed_benchmark_resumes_where_it_stopped(cohort, one_process, tmp_path):
    out = tmp_path / "lb"
    cmd = [sys.executable, "-m", "memamba_core.cli", "benchmark", cohort, "--out", str(out), *OPTIONS]
    proc = subprocess.Popen(cmd, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while len(_markers(out)) < 3:  # a few folds finished: kill mid-run
            assert proc.poll() is None and time.monotonic() < deadline, "the benchmark ended before it could be killed"
            time.sleep(0.05)
        proc.kill()
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    done = _markers(out)
    assert 3 <= len(done) < 2 * len(MODELS) * 5 and not (out / "leaderboard.csv").exists()
    again = memamba(["benchmark", cohort, "--out", str(out), *OPTIONS])
    assert again.returncode == 0, again.stderr[-3000:]
    after = _markers(out)
    assert len(after) == 2 * len(MODELS) * 5
    assert {k: after[k] for k in done} == done  # finished folds were not trained again
    # and the resumed leaderboard is the one an uninterrupted run gives
    a, b = _table(out), _table(one_process)
    pd.testing.assert_series_equal(a["mean_c_index"], b["mean_c_index"])
    assert list(a["fold_c_index"]) == list(b["fold_c_index"])


def test_two_processes_split_the_cells_and_agree_with_one(cohort, one_process, tmp_path):
    out = tmp_path / "lb"
    proc = torchrun(["-m", "memamba_core.cli", "benchmark", cohort, "--out", str(out), *OPTIONS])
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((out / "leaderboard.json").read_text())
    assert record["processes"] == 2 and set(record["owner"].values()) == {0, 1}
    assert proc.stdout.count("leaderboard in") == 1  # rank 0 reports
    a, b = _table(out), _table(one_process)
    pd.testing.assert_series_equal(a["mean_c_index"], b["mean_c_index"])
    for cell in record["owner"]:
        assert RunPaths(out / "cells" / cell.replace("/", "__")).config.is_file()
