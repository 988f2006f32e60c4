"""Benchmark: feature-extraction throughput (patches/s) on the CPU.

    python benchmarks/bench_extract.py [--seconds 10] [--batch 32] [--threads 0] [--slide PATH]

For the built-in encoder and for ResNet-50-truncated (CLAM, D = 1024; random weights: speed
does not depend on the values; optionally ViT-S/16 with --vit): encoder-only throughput on
256-px uint8 patches, and end-to-end throughput (tissue mask + read + encode) on one slide
(``--slide``, default: the first slide of the tiny demo, built if needed). Writes
``benchmarks/results/extract.json``. The machine may be shared: the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="time per encoder-only measurement")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--slide", type=Path, default=None)
    ap.add_argument("--vit", action="store_true", help="also time ViT-S/16 (224 px)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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
    load0 = os.getloadavg()
    results = {}
    for name, enc in encoders.items():
        rate = _encoder_rate(enc, args.batch, args.seconds)
        results[name] = {"encoder_only_patches_per_s": round(rate, 1), "output_dim": enc.output_dim,
                         "end_to_end": _slide_rate(enc, slide, args.batch)}
        print(name, json.dumps(results[name]), flush=True)
    out = {"benchmark": "extract", "batch": args.batch, "torch_threads": torch.get_num_threads(),
           "cpu_count": os.cpu_count(), "loadavg_at_start": load0, "python": platform.python_version(),
           "torch": torch.__version__, "results": results}
    res = Path(__file__).resolve().parent / "results" / "extract.json"
    atomic_write_text(res, json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
