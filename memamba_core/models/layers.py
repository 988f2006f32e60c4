"""Small building blocks shared by ME-Mamba and the baselines.

Glossary: L tokens (N patches or G genomic tokens), D_in patch-feature width,
d model width, K time bins.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GatedAttention", "patch_projection", "snn_block", "GenomicEncoder", "risk_mlp", "rowwise", "NO_GRAD_ROWS"]

NO_GRAD_ROWS = 16384  # rows per piece when a long bag is evaluated without autograd (bounds the (L, ·) temporaries)


def rowwise(fn, x: torch.Tensor, out: torch.Tensor | None = None, rows: int | None = None) -> torch.Tensor:
    """``fn(x)`` for a row-independent ``fn`` (per-token MLP, LayerNorm, scorer), x: (L, …) → (L, …).

    Without autograd and for L > ``rows`` (default :data:`NO_GRAD_ROWS`), computed ``rows`` rows at a time into one output
    (``out`` if given — it may be ``x`` itself — else a new tensor), so fn's intermediates
    never exist for the whole sequence: the same rows, O(rows) extra memory instead of
    O(L). With autograd on, or for a short x, simply ``fn(x)`` (and ``out`` is not used).
    """
    n, rows = x.shape[0], rows or NO_GRAD_ROWS
    if torch.is_grad_enabled() or n <= rows:
        return fn(x)
    for i in range(0, n, rows):
        part = fn(x[i : i + rows])
        if out is None:
            out = part.new_empty((n, *part.shape[1:]))
        out[i : i + rows] = part
    return out


class GatedAttention(nn.Module):
    """Gated attention scorer and pooling (ABMIL, Ilse et al. 2018).

    score_i = wᵀ (tanh(V x_i) ⊙ sigmoid(U x_i)); weights = softmax(score).
    """

    def __init__(self, d: int, hidden: int | None = None, dropout: float = 0.0):
        super().__init__()
        hidden = hidden or d
        self.V = nn.Sequential(nn.Linear(d, hidden), nn.Tanh(), nn.Dropout(dropout))
        self.U = nn.Sequential(nn.Linear(d, hidden), nn.Sigmoid(), nn.Dropout(dropout))
        self.w = nn.Linear(hidden, 1)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Raw scores. x: (…, L, d) → (…, L); one long bag (L, d) without autograd in pieces (:func:`rowwise`)."""
        if x.ndim == 2:
            return rowwise(self._scores, x)
        return self._scores(x)

    def _scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.w(self.V(x) * self.U(x)).squeeze(-1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Attention pooling. x: (…, L, d) → (pooled (…, d), weights (…, L) summing to 1 over L).

        The leading (…) is a batch of patients (the trainer's genomics-only batches); one patient has none.
        """
        weights = torch.softmax(self.scores(x), dim=-1)
        return (weights.unsqueeze(-2) @ x).squeeze(-2), weights


def patch_projection(d_in: int, d: int, dropout: float) -> nn.Sequential:
    """Patch features → tokens: Linear(D_in → d), ReLU, Dropout. (N, D_in) → (N, d)."""
    return nn.Sequential(nn.Linear(d_in, d), nn.ReLU(), nn.Dropout(dropout))


def snn_block(d_in: int, d_out: int, dropout: float) -> nn.Sequential:
    """One self-normalising layer (MCAT's SNN_Block): Linear, ELU, AlphaDropout."""
    return nn.Sequential(nn.Linear(d_in, d_out), nn.ELU(), nn.AlphaDropout(p=dropout))


class GenomicEncoder(nn.Module):
    """Each genomic group through its own two-layer SNN → one d-dim token (MCAT).

    Args:
        sizes: genes per group (G groups).
        d: token width.
    """

    def __init__(self, sizes: tuple[int, ...], d: int, dropout: float):
        super().__init__()
        self.nets = nn.ModuleList(nn.Sequential(snn_block(s, d, dropout), snn_block(d, d, dropout)) for s in sizes)

    def input_weights(self) -> list[nn.Parameter]:
        """Each group's first Linear weight, (d, size_g): the only weights that read gene values."""
        return [net[0][0].weight for net in self.nets]

    def forward(self, omics: list[torch.Tensor]) -> torch.Tensor:
        """omics: G tensors (…, size_g) → tokens (…, G, d); (…) is an optional batch of patients."""
        return torch.stack([net(x) for net, x in zip(self.nets, omics)], dim=-2)


def risk_mlp(d_in: int, d: int, n_bins: int, dropout: float) -> nn.Sequential:
    """Head MLP: Linear(d_in → d), ReLU, Dropout, Linear(d → K). (…, d_in) → (…, K)."""
    return nn.Sequential(nn.Linear(d_in, d), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d, n_bins))
