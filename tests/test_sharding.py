"""Sharded work (memamba_core.sharding): deterministic plan, one rank per item, resume, gathered report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memamba_core.sharding import Outcome, ShardProgress, assign_shards, run_sharded
from tests._torchrun import torchrun

WORKER = str(Path(__file__).with_name("_shard_worker.py"))


def test_assign_shards_is_balanced_and_deterministic():
    assert assign_shards([5, 1, 1, 4, 3], 2) == [0, 0, 0, 1, 1]  # longest first: loads 7 and 7
    assert assign_shards([1.0] * 5, 2) == [0, 1, 0, 1, 0]  # equal costs: round-robin
    assert assign_shards([3, 2], 4) == [0, 1]  # more ranks than items: some get none
    assert assign_shards([], 3) == []
    costs = [7, 3, 9, 1, 1, 4, 8, 2]
    plan = assign_shards(costs, 3)
    assert plan == assign_shards(list(costs), 3)
    loads = [sum(c for c, r in zip(costs, plan) if r == k) for k in range(3)]
    assert max(loads) - min(loads) <= max(costs) and sum(loads) == sum(costs)
    with pytest.raises(ValueError, match="world"):
        assign_shards([1], 0)


def test_one_process_skips_done_records_failures_reports_progress(tmp_path):
    written, seen = [], []

    def work(key, tick):
        tick(0.5, f"{key} half")
        if key == "b":
            return Outcome(False, detail="b is unreadable")
        written.append(key)
        return Outcome(True, units=len(key) * 10)

    rep = run_sharded(["a", "b", "cc", "d"], work, done=lambda k: k == "d", progress=seen.append)
    assert written == ["a", "cc"]
    assert rep.done == ["a", "cc"] and rep.skipped == ["d"] and rep.failed == {"b": "b is unreadable"}
    assert rep.units == {"a": 10, "cc": 20} and set(rep.owner.values()) == {0}
    assert rep.ranks == [{"rank": 0, "items": 3, "done": 2, "failed": 1, "units": 30, "seconds": rep.ranks[0]["seconds"]}]
    fr = [p.fraction for p in seen]
    assert all(isinstance(p, ShardProgress) for p in seen) and fr == sorted(fr) and fr[-1] == 1.0
    assert fr[0] == pytest.approx((1 + 0.5) / 4)  # the skipped item counts as finished
    assert seen[0].message == "a half"


def test_work_errors_propagate_and_bad_arguments_are_refused():
    def work(key, tick):
        raise KeyError(key)

    with pytest.raises(KeyError):
        run_sharded(["x"], work)
    with pytest.raises(ValueError, match="unique"):
        run_sharded(["x", "x"], work)
    with pytest.raises(ValueError, match="costs"):
        run_sharded(["x"], work, cost=[1, 2])


def _reports(out: Path) -> list[dict]:
    return [json.loads((out / f"report_{r}.json").read_text()) for r in (0, 1)]


def _worked(out: Path, rank: int) -> list[str]:
    f = out / f"worked_{rank}.txt"
    return f.read_text().split() if f.is_file() else []


@pytest.mark.slow
def test_two_ranks_each_item_once_same_report_and_resume(tmp_path):
    keys = ["k5", "k1", "k11", "k4", "k3", "k2"]
    proc = torchrun([WORKER, str(tmp_path), *keys, "--fail", "k3"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = _reports(tmp_path)
    assert r0 == r1  # every rank returns the same, gathered report
    w0, w1 = _worked(tmp_path, 0), _worked(tmp_path, 1)
    assert sorted(w0 + w1) == sorted(keys) and not set(w0) & set(w1)  # each item by exactly one rank
    plan = dict(zip(keys, assign_shards([int(k[1:]) for k in keys], 2)))
    assert r0["owner"] == plan and w0 == [k for k in keys if plan[k] == 0]  # the plan, worked in key order
    assert r0["done"] == [k for k in keys if k != "k3"] and r0["failed"] == {"k3": "k3 is broken"}
    assert [r["rank"] for r in r0["ranks"]] == [0, 1] and sum(r["units"] for r in r0["ranks"]) == 5 + 1 + 11 + 4 + 2
    prog = [json.loads(x) for x in (tmp_path / "shard_log.jsonl").read_text().splitlines()]
    assert prog and all(len(p["ranks"]) == 2 for p in prog) and prog[-1]["fraction"] == 1.0  # failed items are finished too
    assert prog[-1]["message"] == " · ".join(f"r{r} {sum(plan[k] == r for k in keys)}/{sum(plan[k] == r for k in keys)}" for r in (0, 1))
    # rerun: the finished items are skipped, only the failed one is tried again
    for r in (0, 1):
        (tmp_path / f"worked_{r}.txt").unlink(missing_ok=True)
    proc = torchrun([WORKER, str(tmp_path), *keys, "--fail", "k3"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = _reports(tmp_path)
    assert r0 == r1 and r0["skipped"] == [k for k in keys if k != "k3"] and r0["failed"] == {"k3": "k3 is broken"}
    assert sorted(_worked(tmp_path, 0) + _worked(tmp_path, 1)) == ["k3"]


@pytest.mark.slow
def test_an_error_on_one_rank_stops_the_other(tmp_path):
    keys = ["k9", "k8", "k1", "k2", "k3", "k4"]
    plan = dict(zip(keys, assign_shards([int(k[1:]) for k in keys], 2)))
    victim = next(k for k in keys if plan[k] == 0)
    proc = torchrun([WORKER, str(tmp_path), *keys, "--abort", victim, "--sleep", "0.3"])
    assert proc.returncode != 0
    err0 = (tmp_path / "error_0.txt").read_text()
    err1 = (tmp_path / "error_1.txt").read_text()
    assert err0 == f"RuntimeError: boom on {victim}"
    assert err1.startswith("ShardAborted: rank 0 stopped: RuntimeError: boom on") and "rerun to resume" in err1
    assert len(_worked(tmp_path, 1)) < sum(plan[k] == 1 for k in keys)  # it stopped early
