"""Long-bag inference without autograd: row pieces (layers.rowwise), one (L, d) buffer per scan layer, same results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import memamba_core.models.layers as layers
from memamba_core.models import ModelConfig, build_model, model_names, model_reads
from memamba_core.models.layers import rowwise
from tests._model_helpers import single_thread  # noqa: F401  (autouse: one thread per test)

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_inference.py"


def test_rowwise_equals_the_whole_call_and_can_write_in_place():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(103, 16, generator=g)
    mlp = nn.Sequential(nn.Linear(16, 8), nn.ReLU())
    norm = nn.LayerNorm(16)
    with torch.no_grad():
        torch.testing.assert_close(rowwise(mlp, x, rows=10), mlp(x), rtol=1e-6, atol=1e-7)
        expected = norm(x)
        buf = x.clone()
        got = rowwise(norm, buf, out=buf, rows=7)
        assert got.data_ptr() == buf.data_ptr()  # written back into the same buffer
        torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-7)
    y = rowwise(mlp, x.requires_grad_(), rows=10)  # autograd on: the plain call, differentiable
    assert y.grad_fn is not None


@pytest.mark.parametrize("model", [m for m in model_names() if "pathology" in model_reads(m)])
def test_long_bag_in_pieces_equals_the_autograd_forward(monkeypatch, model):
    """A bag longer than NO_GRAD_ROWS (lowered to 64 here) is scored in pieces and streamed; the result is the
    eval forward with autograd on (no pieces, no streaming), within float32 rounding."""
    monkeypatch.setattr(layers, "NO_GRAD_ROWS", 64)
    torch.manual_seed(0)
    m = build_model(ModelConfig(model=model, path_input_dim=12, omic_sizes=(5, 7, 3), d_model=16, d_state=4,
                                n_layers=2)).eval()
    g = torch.Generator().manual_seed(1)
    path, omics = torch.randn(500, 12, generator=g), [torch.randn(s, generator=g) for s in (5, 7, 3)]
    with torch.no_grad():
        fast = m(path, omics)
    slow = m(path, omics)
    torch.testing.assert_close(fast.risk, slow.risk.detach(), rtol=1e-5, atol=1e-6)
    for k in slow.attention:
        torch.testing.assert_close(fast.attention[k], slow.attention[k], rtol=1e-4, atol=1e-7, msg=k)


def _peak_growth_gib(n: int) -> float:
    # glibc's dynamic mmap threshold keeps freed large blocks in the heap after the first ones are released, so
    # without a fixed threshold the peak RSS depends on allocation order (measured 2.4 to 5.7 buffers per patch on
    # the same code); a fixed threshold gives every large tensor its own mapping, returned when it is freed, so the
    # peak counts the live buffers the model holds.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    proc = subprocess.run([sys.executable, str(BENCH), "--child", "memamba", "--n", str(n), "--threads", "1"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_growth_gib"]


@pytest.mark.slow
def test_inference_memory_grows_by_about_two_token_buffers_per_patch():
    """Default ME-Mamba (1024-d patches, d = 256): the peak memory over the input grows by about two (N, d)
    float32 buffers per patch — the scan layer's input and its output — not the six of whole-bag temporaries.
    Measured as the slope between N = 20,000 and 60,000 (fixed costs cancel) in fresh processes."""
    small, large = 20_000, 60_000
    slope = (_peak_growth_gib(large) - _peak_growth_gib(small)) / (large - small)  # GiB per patch
    per_buffer = 256 * 4 / 2**30  # one float32 (·, d) row
    assert slope < 3.0 * per_buffer, f"{slope / per_buffer:.2f} (N, d) buffers per patch"
