"""Tiny model configs and synthetic patients shared by the model tests."""

import pytest
import torch

from memamba_core.models import ModelConfig

D_IN = 12
OMIC_SIZES = (5, 7, 3)


def tiny_config(**changes) -> ModelConfig:
    """A small, fast ME-Mamba config (d = 16, S = 4, one layer, dropout off)."""
    base = dict(
        path_input_dim=D_IN, omic_sizes=OMIC_SIZES, d_model=16, d_state=4, n_layers=1, dropout=0.0
    )
    return ModelConfig(**(base | changes))


def patient(n_patches: int = 30, seed: int = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(path (N, D_IN), omics G × (size_g,)) drawn from a fixed seed."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_patches, D_IN, generator=g), [torch.randn(s, generator=g) for s in OMIC_SIZES]


@pytest.fixture(autouse=True)
def single_thread():
    """Run a test on one intra-op thread: tiny tensors gain nothing from more, and on a
    shared CPU the OpenMP barriers of a second thread make them 10× slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def block_by_backend(block, x: torch.Tensor, backends: tuple[str, ...]) -> dict:
    """Run ``block`` on ``x`` with each scan backend: {backend: (y, dL/dx, [dL/dparam])} for L = Σ y²."""
    results = {}
    for backend in backends:
        block.backend = backend
        block.zero_grad()
        xi = x.clone().requires_grad_()
        y = block(xi)
        y.pow(2).sum().backward()
        results[backend] = (y.detach(), xi.grad, [p.grad.clone() for p in block.parameters()])
    return results
