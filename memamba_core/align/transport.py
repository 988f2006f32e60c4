"""Optimal-transport plans from patches to genomic tokens.

Glossary: N patches (sources), G genomic tokens (targets). Every patch carries
mass 1, so every row of a returned plan T (N, G) sums to 1: T[i, j] is the
share of patch i sent to genomic token j. This is the "transport map" the
dashboard draws.

- :func:`hard_transport`: the paper's simplified OT, each patch sends all its
  mass to its cheapest genomic token (argmin of the cost row; ties → lowest j).
- :func:`sinkhorn_transport`: entropic OT with uniform marginals (1/N per patch,
  1/G per token), solved in the log domain so small ε does not underflow; the
  plan is then rescaled row by row so each row carries its patch's mass 1.
"""

from __future__ import annotations

import math

import torch

from ..errors import InputError

__all__ = ["hard_transport", "sinkhorn_transport"]


def hard_transport(C: torch.Tensor) -> torch.Tensor:
    """One-hot plan: row i is 1 at argmin_j C[i, j]. C: (N, G) → T: (N, G)."""
    T = torch.zeros_like(C)
    T.scatter_(1, C.argmin(dim=1, keepdim=True), 1.0)
    return T


def sinkhorn_transport(C: torch.Tensor, eps: float = 0.1, iters: int = 50) -> torch.Tensor:
    """Entropic OT plan with uniform marginals, rows rescaled to patch mass 1.

    Solves min_T ⟨T, C⟩ − ε H(T) s.t. T·1 = 1/N, Tᵀ·1 = 1/G by ``iters``
    log-domain Sinkhorn iterations, then returns N·T with each row renormalised
    to sum to exactly 1 (column sums are ≈ N/G each after convergence).

    Args:
        C: (N, G) cost.
        eps: ε > 0, the entropic regularisation (smaller = closer to a hard plan).
        iters: number of Sinkhorn iterations (≥ 1).

    Returns:
        T: (N, G), rows sum to 1.

    Raises:
        InputError: ε ≤ 0 or iters < 1.
    """
    if not eps > 0:
        raise InputError(f"Sinkhorn eps must be > 0, got {eps}.")
    if iters < 1:
        raise InputError(f"Sinkhorn iters must be ≥ 1, got {iters}.")
    n, g = C.shape
    log_a = -math.log(n)  # uniform source marginal, log(1/N)
    log_b = -math.log(g)  # uniform target marginal, log(1/G)
    K = -C / eps  # log kernel
    f = C.new_zeros(n, 1)
    h = C.new_zeros(1, g)
    for _ in range(iters):
        f = log_a - torch.logsumexp(K + h, dim=1, keepdim=True)
        h = log_b - torch.logsumexp(K + f, dim=0, keepdim=True)
    log_T = K + f + h
    return torch.softmax(log_T, dim=1)  # row-normalised plan: each patch's mass is 1
