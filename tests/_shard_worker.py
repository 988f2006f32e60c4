"""A torchrun worker for tests/test_sharding.py: run_sharded over fake items that write one file each.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/_shard_worker.py OUT KEYS [--fail K] [--abort K]

Each item ``k`` writes ``OUT/items/k.txt`` (atomically) and appends "k" to ``OUT/worked_<rank>.txt``;
item costs are the key's number. Rank r writes its report to ``OUT/report_<r>.json`` (or its error to
``OUT/error_<r>.txt``); rank 0 appends each progress message to ``OUT/shard_log.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from memamba_core.dist import init_distributed, shutdown_distributed
from memamba_core.paths import atomic_write_text
from memamba_core.sharding import Outcome, run_sharded


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("keys", nargs="+")
    ap.add_argument("--fail", action="append", default=[])
    ap.add_argument("--abort", default=None)
    ap.add_argument("--sleep", type=float, default=0.05)
    args = ap.parse_args()
    d = init_distributed()
    out = args.out
    (out / "items").mkdir(parents=True, exist_ok=True)

    def work(key, tick):
        if key == args.abort:
            raise RuntimeError(f"boom on {key}")
        with open(out / f"worked_{d.rank}.txt", "a") as fh:
            fh.write(key + "\n")
        for i in range(3):
            time.sleep(args.sleep)
            tick((i + 1) / 3, f"{key}: {i + 1}/3")
        if key in args.fail:
            return Outcome(False, detail=f"{key} is broken")
        atomic_write_text(out / "items" / f"{key}.txt", key)
        return Outcome(True, units=int(key[1:]))

    def progress(p):
        with open(out / "shard_log.jsonl", "a") as fh:
            fh.write(json.dumps({"fraction": p.fraction, "message": p.message, "ranks": [asdict(r) for r in p.ranks]}) + "\n")

    try:
        rep = run_sharded(args.keys, work, dist=d, done=lambda k: (out / "items" / f"{k}.txt").is_file(),
                          cost=[int(k[1:]) for k in args.keys], progress=progress, interval=0.1)
    except Exception as err:  # the test reads what each rank saw
        (out / f"error_{d.rank}.txt").write_text(f"{type(err).__name__}: {err}")
        # torchrun tears the whole group down as soon as one rank exits non-zero: wait for the others
        # to write what they saw (they stop at their next progress exchange), then leave
        deadline = time.monotonic() + 20
        while d.world > 1 and time.monotonic() < deadline and \
                len(list(out.glob("error_*.txt"))) + len(list(out.glob("report_*.json"))) < d.world:
            time.sleep(0.05)
        shutdown_distributed(d)
        return 3
    atomic_write_text(out / f"report_{d.rank}.json", json.dumps(asdict(rep), sort_keys=True))
    shutdown_distributed(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
