"""The real leaderboard (issue 17): TCGA-BLCA (MCAT layout, OS) and TCGA-STAD (SurvPath layout, OS and DSS).

Run from the repository root (cohorts from $MEMAMBA_BLCA / $MEMAMBA_STAD, else ../shared/data/…)::

    python benchmarks/leaderboard.py --out /tmp/lb/run            # 1 process, resumable
    torchrun --nproc_per_node 2 benchmarks/leaderboard.py --out /tmp/lb/run2 --results-suffix _2proc

It writes a cohort file for STAD next to ``--out`` (pointing at the unedited
SurvPath folder), then runs exactly::

    memamba benchmark BLCA@os STAD.toml@os,dss --out OUT --models <all five> --no-progress

(the protocol: :class:`memamba_core.train.leaderboard.Protocol` defaults), and
copies the table into ``benchmarks/results/leaderboard{suffix}.{csv,json,md,png}``
and ``leaderboard{suffix}_gaps.csv``, the JSON with the command, the machine
(CPU count, load average at start: this machine is shared) and the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLCA = Path(os.environ.get("MEMAMBA_BLCA", REPO.parent / "shared" / "data" / "tcga_blca"))
STAD = Path(os.environ.get("MEMAMBA_STAD", REPO.parent / "shared" / "data" / "tcga_stad_survpath"))
RESULTS = REPO / "benchmarks" / "results"


def main(argv: list[str] | None = None) -> int:
    from memamba_core import cli
    from memamba_core.models import choices
    from memamba_core.paths import atomic_write_text
    from memamba_core.train.leaderboard_table import TABLE_FILES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="benchmark folder to create or resume")
    ap.add_argument("--results-suffix", default="", help="suffix of the files under benchmarks/results/ (e.g. _2proc)")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `memamba benchmark` options")
    args = ap.parse_args(argv)
    for p in (BLCA, STAD):
        if not p.is_dir():
            raise SystemExit(f"{p}: cohort folder not found; set $MEMAMBA_BLCA / $MEMAMBA_STAD.")
    out = args.out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    toml = out.parent / "tcga_stad_survpath.toml"
    if not toml.is_file():
        atomic_write_text(toml, f'name = "TCGA-STAD"\nroot = "{STAD}"\n')
    bench = ["benchmark", f"{BLCA}@os", f"{toml}@os,dss", "--out", str(out), "--models", *choices("benchmark_model"),
             "--no-progress", *args.extra]
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    rc = cli.main(bench)
    seconds = time.perf_counter() - t0
    if int(os.environ.get("RANK", "0")) != 0 or rc != 0:
        return rc
    RESULTS.mkdir(parents=True, exist_ok=True)
    for role, name in TABLE_FILES.items():
        stem, ext = name.rsplit(".", 1)
        if role != "json" and (out / name).is_file():
            shutil.copyfile(out / name, RESULTS / f"{stem}{args.results_suffix}.{ext}")
    record = json.loads((out / TABLE_FILES["json"]).read_text())
    record.update({
        "command": "memamba " + " ".join(bench).replace(str(out), "OUT"),
        "script": "python benchmarks/leaderboard.py --out OUT" + (f" --results-suffix {args.results_suffix}" if args.results_suffix else ""),
        "wall_seconds": round(seconds, 1), "cpu_count": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load0],
        "python": platform.python_version(),
    })
    atomic_write_text(RESULTS / f"leaderboard{args.results_suffix}.json", json.dumps(record, indent=2) + "\n")
    print(f"{seconds:.0f} s → {RESULTS}/leaderboard{args.results_suffix}.*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
