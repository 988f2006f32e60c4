"""A quick built-in timing (``memamba bench --quick``): forward + backward of one patient."""

from __future__ import annotations

import time

import torch

from ..models import ModelConfig, build_model
from ..survival.discrete import nll_loss

__all__ = ["quick_timing"]


def quick_timing(n_patches: int = 2000, d_in: int = 1024, omic_sizes=(100, 200, 300, 300, 500, 200), reps: int = 3) -> dict:
    """Seconds per forward+backward of the default ME-Mamba on a synthetic bag of ``n_patches`` × ``d_in``."""
    torch.manual_seed(0)
    cfg = ModelConfig(path_input_dim=d_in, omic_sizes=tuple(omic_sizes))
    model = build_model(cfg).train()
    path = torch.randn(n_patches, d_in)
    omics = [torch.randn(s) for s in omic_sizes]
    times = []
    for _ in range(reps + 1):
        t0 = time.perf_counter()
        out = model(path, omics)
        nll_loss(out.logits.reshape(1, -1), torch.tensor([1]), torch.tensor([0])).backward()
        times.append(time.perf_counter() - t0)
    return {
        "what": "forward+backward of one patient, default ModelConfig",
        "n_patches": n_patches,
        "d_in": d_in,
        "threads": torch.get_num_threads(),
        "seconds_first": times[0],
        "seconds_median": sorted(times[1:])[len(times[1:]) // 2],
    }
