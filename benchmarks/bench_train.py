"""Training speed on the demo cohort: one epoch over all patients, and a whole 5-fold run.

    python benchmarks/bench_train.py [--profile full] [--skip-cv] [--threads N]

Uses the demo checkpoint's recipe (``memamba_core.train.demo_train_config``):
ME-Mamba with d_model 64, one expert layer, patches subsampled to 512 per bag
while training. Writes ``benchmarks/results/bench_train_<profile>.json``. The
issue's target: one epoch ≤ 60 s on a CPU. Timings depend on the load of the
machine: the JSON records the thread count and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="full")
    ap.add_argument("--skip-cv", action="store_true", help="only the one-epoch timing")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = the demo recipe's, 1)")
    args = ap.parse_args()

    from memamba_core.data import load_cohort
    from memamba_core.demo import ensure_demo
    from memamba_core.models import build_model
    from memamba_core.paths import atomic_write_text
    from memamba_core.survival.discrete import bin_edges
    from memamba_core.train import demo_train_config, train_cv
    from memamba_core.train.cv import resolve_model_config
    from memamba_core.train.distributed import Dist
    from memamba_core.train.examples import make_examples
    from memamba_core.train.loop import _make_optimizer, _run_epoch

    cohort = load_cohort(ensure_demo(args.profile), cache_items=100_000)
    cfg = demo_train_config(args.profile)
    torch.set_num_threads(args.threads or cfg.num_threads or torch.get_num_threads())
    mcfg = resolve_model_config(cohort, cfg)
    ids = cohort.case_ids()
    pats = [cohort.patient(c) for c in ids]
    cuts = bin_edges(np.array([p.survival_months for p in pats]), np.array([p.censorship for p in pats]), cfg.n_bins)
    examples = make_examples(cohort, ids, mcfg, cohort.fit_scaler(ids), cuts)
    for c in ids:  # warm the bag cache: the epoch timing measures training, not disk reads
        cohort.load_bag(c)
    torch.manual_seed(0)
    model = build_model(mcfg)
    opt = _make_optimizer(model, cfg)
    t0 = time.perf_counter()
    _run_epoch(model, opt, examples, cfg, 0, 1, Dist(), None)
    epoch_s = time.perf_counter() - t0

    result = {
        "benchmark": "bench_train",
        "profile": args.profile,
        "n_patients": len(ids),
        "model": mcfg.to_dict(),
        "max_train_patches": cfg.max_train_patches,
        "one_epoch_seconds": round(epoch_s, 2),
        "one_epoch_target_seconds": 60,
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "torch": torch.__version__,
    }
    if not args.skip_cv:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            summary = train_cv(cohort, cfg, Path(tmp) / "run", progress=False)
            result["cv_seconds"] = round(time.perf_counter() - t0, 1)
            result["cv_epochs"] = cfg.epochs
            result["cv_folds"] = summary["n_folds_finished"]
            result["cv_mean_c_index"] = summary["mean"]["c_index"]
    out = Path(__file__).resolve().parent / "results" / f"bench_train_{args.profile}.json"
    atomic_write_text(out, json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
