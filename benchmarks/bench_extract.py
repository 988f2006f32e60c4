"""Benchmark: feature-extraction throughput (patches/s) on the CPU, in one process and sharded over several.

    python benchmarks/bench_extract.py [--seconds 10] [--batch 32] [--threads 0] [--slide PATH]
                                       [--procs 1 2] [--profile full] [--sections encoders sharded]

``encoders``: for the built-in encoder and for ResNet-50-truncated (CLAM, D = 1024; random
weights: speed does not depend on the values; optionally ViT-S/16 with --vit): encoder-only
throughput on 256-px uint8 patches, and end-to-end throughput (tissue mask + read + encode) on
one slide (``--slide``, default: the first slide of the tiny demo, built if needed).

``sharded``: ``memamba extract`` of every slide of the demo cohort (``--profile``: full = 104
slides, tiny = 12) with the built-in encoder, in 1 process and under torchrun with 2 (``--procs``),
each process given ``--threads-total / procs`` torch threads (default: all cores shared out):
patches per second from the first slide to the last (``extract_s``, after start-up) and over
the whole command (``command_s``, start-up included), and each rank's share. Every run writes
into a fresh temporary folder, removed after.

Writes ``benchmarks/results/extract.json`` (``--out`` to change). The machine may be shared:
the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from memamba_core.paths import atomic_write_text


def _encoder_rate(enc, batch: int, seconds: float) -> float:
    x = np.random.default_rng(0).integers(0, 256, (batch, 256, 256, 3), dtype=np.uint8)
    enc(x[:2])  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        enc(x)
        n += batch
    return n / (time.perf_counter() - t0)


def _slide_rate(enc, slide_path: Path, batch: int) -> dict:
    from memamba_core.features import extract_slide
    from memamba_core.slides import open_slide

    t0 = time.perf_counter()
    with open_slide(slide_path) as s:
        feats, grid = extract_slide(s, enc, batch_size=batch)
        backend = s.backend
    dt = time.perf_counter() - t0
    return {"slide": slide_path.name, "backend": backend, "patches": len(grid), "seconds": round(dt, 2),
            "patches_per_s": round(len(grid) / dt, 1)}


def _worker(args) -> None:
    """One run of the sharded section (under torchrun or alone): extract ``args.worker_slides`` into ``args.worker_out``."""
    from memamba_core.dist import init_distributed, shutdown_distributed
    from memamba_core.features import builtin_encoder, extract_folder

    d = init_distributed()
    try:
        enc = builtin_encoder(device=str(d.device))
        d.barrier()
        t0 = time.perf_counter()
        rep = extract_folder(args.worker_slides, args.worker_out, enc, batch_size=args.batch, dist=d)
        seconds = time.perf_counter() - t0
    finally:
        shutdown_distributed(d)
    if d.is_main:
        patches = sum(rep.n_patches.values())
        atomic_write_text(args.worker_report, json.dumps({
            "processes": d.world, "torch_threads_per_process": torch.get_num_threads(), "slides": len(rep.done),
            "failed": len(rep.failed), "patches": patches, "extract_s": round(seconds, 3),
            "patches_per_s": round(patches / seconds, 1), "ranks": rep.ranks}))


def _sharded(slides: Path, procs: int, threads_total: int, batch: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
        env["OMP_NUM_THREADS"] = str(max(1, threads_total // procs))
        me = [str(Path(__file__).resolve()), "--worker-slides", str(slides), "--worker-out", str(tmp / "out"),
              "--worker-report", str(tmp / "report.json"), "--batch", str(batch)]
        cmd = [sys.executable, *me] if procs == 1 else \
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs), *me]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        command_s = time.perf_counter() - t0
        if proc.returncode != 0:
            return {"status": f"failed (rc {proc.returncode}): {(proc.stderr or '').strip()[-300:]}"}
        res = json.loads((tmp / "report.json").read_text())
        return {"status": "ok", **res, "command_s": round(command_s, 2),
                "patches_per_s_with_startup": round(res["patches"] / command_s, 1)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="time per encoder-only measurement")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--slide", type=Path, default=None)
    ap.add_argument("--vit", action="store_true", help="also time ViT-S/16 (224 px)")
    ap.add_argument("--sections", nargs="+", choices=("encoders", "sharded"), default=["encoders", "sharded"])
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="process counts of the sharded section")
    ap.add_argument("--profile", default="full", help="demo cohort whose slides the sharded section extracts (full | tiny)")
    ap.add_argument("--slides", type=Path, default=None, help="a folder of slides instead of the demo's (sharded section)")
    ap.add_argument("--threads-total", type=int, default=os.cpu_count(), help="torch threads shared out over the processes")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "extract.json")
    ap.add_argument("--worker-slides", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--worker-report", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker_slides:
        _worker(args)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    load0 = os.getloadavg()
    results = {}
    if "encoders" in args.sections:
        results = _encoders(args)
    sharded = {}
    if "sharded" in args.sections:
        slides = args.slides
        if slides is None:
            from memamba_core.demo import ensure_demo

            slides = ensure_demo(args.profile) / "slides"
        for n in args.procs:
            sharded[str(n)] = _sharded(slides, n, args.threads_total, args.batch)
            print(f"{n} process(es):", json.dumps(sharded[str(n)]), flush=True)
        sharded = {"slides_folder": str(slides), "encoder": "builtin", "threads_total": args.threads_total, "runs": sharded}
    out = {"benchmark": "extract", "batch": args.batch, "torch_threads": torch.get_num_threads(),
           "cpu_count": os.cpu_count(), "loadavg_at_start": load0, "loadavg_at_end": os.getloadavg(),
           "python": platform.python_version(), "torch": torch.__version__, "command": "python " + " ".join(sys.argv),
           "results": results, "sharded": sharded}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


def _encoders(args) -> dict:
    from memamba_core.features import Encoder, IMAGENET_MEAN, IMAGENET_STD, ResNet50Trunc, VisionTransformer, builtin_encoder

    encoders = {
        "builtin": builtin_encoder(),
        "resnet50_trunc": Encoder("resnet50_trunc", ResNet50Trunc(), 1024, IMAGENET_MEAN, IMAGENET_STD),
    }
    if args.vit:
        encoders["vit_small_patch16_224"] = Encoder(
            "vit_small_patch16_224", VisionTransformer(384, 12), 384, IMAGENET_MEAN, IMAGENET_STD, input_size=224)
    slide = args.slide
    if slide is None:
        from memamba_core.demo import ensure_demo

        slide = sorted((ensure_demo("tiny") / "slides").glob("*.tif"))[0]
    results = {}
    for name, enc in encoders.items():
        rate = _encoder_rate(enc, args.batch, args.seconds)
        results[name] = {"encoder_only_patches_per_s": round(rate, 1), "output_dim": enc.output_dim,
                         "end_to_end": _slide_rate(enc, slide, args.batch)}
        print(name, json.dumps(results[name]), flush=True)
    return results


if __name__ == "__main__":
    main()
