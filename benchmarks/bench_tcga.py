"""Benchmark: a training epoch at TCGA size — a synthetic cohort on disk, 1 and 2 processes, with and without subsampling.

    python benchmarks/bench_tcga.py                    # 400 patients, 2k–60k patches, the published run (~26 GiB of disk)
    python benchmarks/bench_tcga.py --dry-run          # 12 small patients, seconds; writes to a temporary folder
    python benchmarks/bench_tcga.py --sample-steps 0   # time whole epochs instead of a sample of steps

**The cohort** (generated once, reused while its spec is unchanged, ``--root``; default
``$MEMAMBA_CACHE/bench-tcga-<spec hash>``): ``--patients`` patients (≥ 400 for the published
figure), one slide each, patch counts drawn log-uniformly from [``--min-patches``,
``--max-patches``] (2,000–60,000: median ≈ 11k, mean ≈ 17k), 1024-d float32 features of
N(0, 1) noise and a patch grid, written as CLAM ``h5_files/<slide>.h5`` through the project's
writer (no float16: the model sees what real float32 features give it); six gene families of
MCAT's sizes (3,330 genes) in ``labels.csv`` + ``signatures.csv``; survival times from a
seeded exponential model with ~1/3 censored. Disk use = Σ N × 4 KiB + coordinates: the
estimate is printed and checked against the free space and ``--max-disk-gib`` before anything
is written. Files are written atomically, so an interrupted generation resumes.

**The epoch** (CPU section): the default ME-Mamba (d = 256, two layers, all switches on) in one
fold holding every patient, ``grad_accum`` patients per optimiser step, bags streamed from disk
(the cohort's bag cache is off, ``--prefetch`` bags read ahead by a background thread), for each
process count of ``--procs`` (torchrun, gloo, DDP; the machine's threads shared out) and each
cap of ``--subsample`` (0 = whole bags, 4096 = ``max_train_patches``). With ``--sample-steps
K`` > 0 only the first K steps of a seeded epoch order are timed and the epoch time is
**projected** (``projected_epoch_s``: the measured time × the cohort's effective patches /
the sample's, effective = min(N, cap)) — labelled as such in the JSON; with 0 the whole epoch
is timed (``epoch_s``). Peak memory: each process's peak resident set (VmHWM).

**GPU section** (only where CUDA exists): the same epoch sample on one GPU (two ranks when
there are two GPUs), float32 and bf16 autocast, and the ``memamba doctor`` speed table on the
CPU and the GPU side by side. Writes ``benchmarks/results/bench_tcga.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from memamba_core.paths import atomic_write_text, cache_dir

RESULTS = Path(__file__).resolve().parent / "results"
FAMILIES = {"tumor_suppression": 100, "oncogenesis": 300, "protein_kinases": 500, "cellular_differentiation": 450,
            "transcription": 1500, "cytokines_growth": 480}  # MCAT's six families and their sizes
D_IN = 1024
PATCH = 256


# ---------------------------------------------------------------- the cohort


def cohort_spec(args) -> dict:
    return {"version": 1, "patients": args.patients, "min_patches": args.min_patches, "max_patches": args.max_patches,
            "d_in": D_IN, "families": FAMILIES, "seed": args.seed}


def patch_counts(spec: dict) -> np.ndarray:
    """(P,) patch counts, log-uniform in [min, max], seeded."""
    rng = np.random.default_rng([spec["seed"], 1])
    lo, hi = math.log(spec["min_patches"]), math.log(spec["max_patches"])
    return np.exp(rng.uniform(lo, hi, spec["patients"])).round().astype(np.int64)


def disk_estimate_gib(counts: np.ndarray) -> float:
    return float(counts.sum() * (D_IN * 4 + 16) + len(counts) * 64 * 1024) / 2**30


def make_cohort(root: Path, spec: dict, max_disk_gib: float) -> Path:
    """Write the synthetic cohort into ``root`` (resumable); returns ``root``."""
    from memamba_core.slides import write_clam_h5

    stamp = root / "bench_spec.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == spec:
        return root
    counts = patch_counts(spec)
    need = disk_estimate_gib(counts)
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free / 2**30
    print(f"cohort: {len(counts)} patients, {int(counts.sum()):,} patches, ~{need:.1f} GiB on disk ({free:.0f} GiB free) → {root}",
          flush=True)
    if need > max_disk_gib or need > free - 1.0:
        raise SystemExit(f"bench_tcga: the cohort needs ~{need:.1f} GiB; allowed {max_disk_gib} GiB (--max-disk-gib), "
                         f"free {free:.1f} GiB. Use fewer --patients / a smaller --max-patches, or another --root.")
    rng = np.random.default_rng([spec["seed"], 2])
    genes = [f"G{j:04d}" for j in range(sum(FAMILIES.values()))]
    x = rng.normal(size=(len(counts), len(genes))).astype(np.float32)
    risk = 0.5 * x[:, 0] - 0.4 * x[:, 1]
    t = rng.exponential(40.0 / np.exp(risk)) + 0.5
    c = rng.exponential(80.0, len(counts)) + 1.0
    ids = [f"TCGA-SY-{i:04d}" for i in range(len(counts))]
    labels = pd.DataFrame({"case_id": ids, "slide_id": [f"{i}-01Z-00-DX1.svs" for i in ids],
                           "survival_months": np.round(np.minimum(t, c), 3), "censorship": (c < t).astype(int)})
    labels = pd.concat([labels, pd.DataFrame(x, columns=[f"{g}_rnaseq" for g in genes])], axis=1)
    atomic_write_text(root / "labels.csv", labels.to_csv(index=False))
    cols, start = {}, 0
    for name, size in FAMILIES.items():
        cols[name] = pd.Series(genes[start : start + size])
        start += size
    atomic_write_text(root / "signatures.csv", pd.DataFrame(cols).to_csv(index=False))
    for i, (cid, n) in enumerate(zip(ids, counts)):
        path = root / "h5_files" / f"{cid}-01Z-00-DX1.h5"
        if path.is_file():
            continue
        frng = np.random.default_rng([spec["seed"], 3, i])
        side = int(math.ceil(math.sqrt(n)))
        coords = np.stack([np.arange(n) % side, np.arange(n) // side], axis=1) * PATCH
        write_clam_h5(path, coords, {"patch_size": PATCH, "patch_level": 0}, frng.standard_normal((int(n), D_IN), np.float32))
        if (i + 1) % 25 == 0:
            print(f"  {i + 1}/{len(counts)} bags written", flush=True)
    atomic_write_text(stamp, json.dumps(spec, sort_keys=True))
    return root


# ---------------------------------------------------------------- one timed run (a worker process or rank)


def worker(args) -> None:
    from bench_inference import _status_kib

    from memamba_core.data import load_cohort
    from memamba_core.dist import init_distributed, shutdown_distributed
    from memamba_core.train import TrainConfig
    from memamba_core.train.cv import new_model, prepare_fold, resolve_model_config
    from memamba_core.train.distributed import wrap_model
    from memamba_core.train.loop import fit_fold

    d = init_distributed()
    try:
        cohort = load_cohort(args.root, cache_items=0)  # bags streamed from disk, never cached
        cfg = TrainConfig(epochs=1, grad_accum=args.grad_accum, max_train_patches=args.cap, prefetch_bags=args.prefetch,
                          autocast=args.autocast, activation_checkpointing=args.checkpointing, eval_every=0,
                          folds="generated", seed=0)
        mcfg = resolve_model_config(cohort, cfg)
        ids = cohort.case_ids()
        data = prepare_fold(cohort, cfg, mcfg, ids, [])
        order = np.random.default_rng(7).permutation(len(ids))
        take = order if args.sample_steps <= 0 else order[: args.sample_steps * args.grad_accum]
        sample = [data.train[i] for i in take]
        spec = json.loads((Path(args.root) / "bench_spec.json").read_text())
        n_patches = dict(zip(sorted(ids), (int(n) for n in patch_counts(spec))))  # ids are TCGA-SY-0000 … in order
        model = wrap_model(new_model(mcfg, cfg, 0, d), d)
        d.barrier()
        t0 = time.perf_counter()
        fit_fold(model, sample, cfg, 0, d)
        if d.device.type == "cuda":
            torch.cuda.synchronize(d.device)
        seconds = time.perf_counter() - t0
        peaks = d.gather(round(_status_kib("VmHWM") / 2**20, 3))
        gpu_peak = round(torch.cuda.max_memory_allocated(d.device) / 2**30, 3) if d.device.type == "cuda" else None
        gpu_peaks = d.gather(gpu_peak)
    finally:
        shutdown_distributed(d)
    if not d.is_main:
        return

    def eff(ids_):
        return sum(min(n_patches[c], args.cap) if args.cap else n_patches[c] for c in ids_)

    rec = {"processes": d.world, "device": d.device.type, "torch_threads_per_process": torch.get_num_threads(),
           "max_train_patches": args.cap, "prefetch_bags": args.prefetch, "autocast": args.autocast,
           "activation_checkpointing": args.checkpointing, "grad_accum": args.grad_accum,
           "patients_timed": len(sample), "patients_in_epoch": len(ids), "steps_timed": math.ceil(len(sample) / args.grad_accum),
           "seconds_timed": round(seconds, 2), "peak_rss_gib_per_rank": peaks}
    if gpu_peaks[0] is not None:
        rec["peak_gpu_gib_per_rank"] = gpu_peaks
    if len(sample) == len(ids):
        rec["epoch_s"] = rec["seconds_timed"]
    else:
        rec["projected_epoch_s"] = round(seconds * eff(ids) / eff([e.case_id for e in sample]), 1)
        rec["projection"] = "PROJECTED: timed sample × (effective patches of the epoch / of the sample)"
    atomic_write_text(args.report, json.dumps(rec))


def run_case(args, procs: int, cap: int, device: str, autocast: str = "off") -> dict:
    """One worker run in fresh processes (torchrun for procs > 1); its record, or the failure."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-tcga-"))
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = str(max(1, args.threads_total // procs))
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    me = [str(Path(__file__).resolve()), "--worker", "--root", str(args.root), "--report", str(tmp / "r.json"),
          "--cap", str(cap), "--grad-accum", str(args.grad_accum), "--sample-steps", str(args.sample_steps),
          "--prefetch", str(args.prefetch), "--autocast", autocast] + (["--checkpointing"] if args.checkpointing else [])
    cmd = [sys.executable, *me] if procs == 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs), *me]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
        if proc.returncode != 0:
            return {"status": f"failed (rc {proc.returncode}): {(proc.stderr or '').strip()[-400:]}"}
        return {"status": "ok", **json.loads((tmp / "r.json").read_text())}
    except subprocess.TimeoutExpired:
        return {"status": f"timeout > {args.timeout} s"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- main


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=400)
    ap.add_argument("--min-patches", type=int, default=2000)
    ap.add_argument("--max-patches", type=int, default=60000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--root", type=Path, help="cohort folder (default: $MEMAMBA_CACHE/bench-tcga-<spec hash>)")
    ap.add_argument("--max-disk-gib", type=float, default=40.0, help="refuse to write a cohort larger than this")
    ap.add_argument("--clean", action="store_true", help="delete the cohort folder after the run")
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--subsample", type=int, nargs="+", default=[0, 4096], help="max_train_patches values (0 = whole bags)")
    ap.add_argument("--grad-accum", type=int, default=32)
    ap.add_argument("--sample-steps", type=int, default=3, help="optimiser steps timed per run (0 = the whole epoch)")
    ap.add_argument("--prefetch", type=int, default=2, help="bags read ahead by a background thread (0 = off)")
    ap.add_argument("--checkpointing", action="store_true", help="activation checkpointing of the experts' layers")
    ap.add_argument("--threads-total", type=int, default=os.cpu_count(), help="torch threads shared out over the processes")
    ap.add_argument("--timeout", type=int, default=6 * 3600, help="seconds per run")
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes (12 patients, 200–2,000 patches, 2 steps of 4), temporary output")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default results/bench_tcga.json; dry run: a temporary file)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--cap", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--autocast", default="off", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.dry_run:
        args.patients, args.min_patches, args.max_patches = 12, 200, 2000
        args.grad_accum, args.sample_steps, args.subsample = 4, 2, [0, 512]
    if args.root is None:
        digest = hashlib.sha256(json.dumps(cohort_spec(args), sort_keys=True).encode()).hexdigest()[:10]
        args.root = cache_dir() / f"bench-tcga-{digest}"
    if args.out is None:
        args.out = Path(tempfile.gettempdir()) / "bench_tcga_dryrun.json" if args.dry_run else RESULTS / "bench_tcga.json"
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return
    spec = cohort_spec(args)
    t0 = time.perf_counter()
    make_cohort(args.root, spec, args.max_disk_gib)
    counts = patch_counts(spec)
    out = {"benchmark": "tcga_epoch", "command": "python " + " ".join(sys.argv), "dry_run": args.dry_run,
           "cohort": {**spec, "root": str(args.root), "total_patches": int(counts.sum()),
                      "median_patches": int(np.median(counts)), "mean_patches": round(float(counts.mean())),
                      "disk_gib": round(disk_estimate_gib(counts), 2), "feature_dtype": "float32",
                      "generation_s": round(time.perf_counter() - t0, 1)},
           "machine": {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
                       "threads_total": args.threads_total, "load_average_before": os.getloadavg()},
           "cpu": {}}
    for procs in args.procs:
        for cap in args.subsample:
            key = f"procs={procs},max_train_patches={cap}"
            out["cpu"][key] = res = run_case(args, procs, cap, "cpu")
            print(key, json.dumps(res), flush=True)
    if torch.cuda.is_available():
        out["gpu"] = gpu_section(args)
    else:
        out["gpu"] = "not run: no CUDA device here"
    out["machine"]["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(out, indent=2))
    print(f"wrote {args.out}")
    if args.clean:
        shutil.rmtree(args.root, ignore_errors=True)


def gpu_section(args) -> dict:
    from memamba_core.doctor import DoctorSizes, speed_table

    sec = {"gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())], "epoch": {}}
    ranks = [1] + ([2] if torch.cuda.device_count() >= 2 else [])
    for procs in ranks:
        for cap in args.subsample:
            for autocast in ("off", "bf16"):
                key = f"procs={procs},max_train_patches={cap},autocast={autocast}"
                sec["epoch"][key] = res = run_case(args, procs, cap, "cuda", autocast)
                print("gpu", key, json.dumps(res), flush=True)
    sizes = DoctorSizes.quick() if args.dry_run else DoctorSizes()
    sec["speed_table"] = speed_table(sizes, [torch.device("cpu"), torch.device("cuda")])
    return sec


if __name__ == "__main__":
    main()
