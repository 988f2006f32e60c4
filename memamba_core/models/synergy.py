"""The Synergistic Expert: OT-aligned, interleaved pathology/genomic tokens → BiMamba.

Glossary: N patch tokens, G genomic tokens, d width.

1. Cost C[i, j] = 1 − cos(P_i, g_j) (N, G), on detached tokens: the plan is a
   fixed assignment for the backward pass (the hard plan has no gradient anyway).
2. Plan T (N, G), rows sum to 1: ``hard`` (argmin), ``sinkhorn`` (entropic), or
   ``off`` (no token alignment: every patch spread evenly, T = 1/G; not returned).
3. Aligned pathology tokens p̃_j = Σ_i T_ij P_i / Σ_i T_ij, the plan-weighted mean
   of the patches sent to genomic token j. A token that receives no patch (hard
   plan, empty column) gets the bag mean of all patch tokens.
4. Sequence [p̃1, g1, …, p̃G, gG] (interleave) or [p̃1 … p̃G, g1 … gG] → one
   BiMamba layer (forward + reverse scans, residual, LayerNorm) → gated
   attention pooling.
5. MMD² between the fused tokens and each modality's tokens (the patch tokens
   thinned to at most ``MMD_MAX_PATCHES`` evenly spaced ones, so the kernel
   matrix stays small for 100k patches), times ``mmd_weight``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..align import cosine_cost, hard_transport, mmd, sinkhorn_transport
from .experts import ScanLayer
from .layers import GatedAttention

__all__ = ["SynergisticExpert", "SynergyOutput", "MMD_MAX_PATCHES"]

MMD_MAX_PATCHES = 512


@dataclass
class SynergyOutput:
    """pooled (d,); attention (2G,); plan (N, G) or None; mmd () weighted."""

    pooled: torch.Tensor
    attention: torch.Tensor
    plan: torch.Tensor | None
    mmd: torch.Tensor


class SynergisticExpert(nn.Module):
    """Fuses patch tokens (N, d) and genomic tokens (G, d); switches are attributes set by the model."""

    def __init__(self, d: int, d_state: int, d_conv: int, expand: int):
        super().__init__()
        self.bimamba = ScanLayer(d, d_state, d_conv, expand, kinds=("forward", "reverse"))
        self.pool = GatedAttention(d)
        self.ot = "hard"  # off | hard | sinkhorn
        self.sinkhorn_eps = 0.1
        self.sinkhorn_iters = 50
        self.interleave = True
        self.mmd_weight = 0.1

    def transport(self, P: torch.Tensor, G: torch.Tensor) -> torch.Tensor | None:
        """Plan (N, G) with rows summing to 1, or None when OT is off. P: (N, d); G: (G, d)."""
        if self.ot == "off":
            return None
        with torch.no_grad():
            cost = cosine_cost(P, G)
            if self.ot == "hard":
                return hard_transport(cost)
            return sinkhorn_transport(cost, eps=self.sinkhorn_eps, iters=self.sinkhorn_iters)

    @staticmethod
    def aligned_tokens(P: torch.Tensor, plan: torch.Tensor | None, n_tokens: int) -> torch.Tensor:
        """p̃ (G, d): plan-weighted mean patch per genomic token; bag mean where none arrives."""
        bag_mean = P.mean(dim=0)
        if plan is None:
            return bag_mean.expand(n_tokens, -1)
        mass = plan.sum(dim=0)  # (G,)
        weighted = plan.t() @ P  # (G, d)
        empty = mass <= 0
        aligned = weighted / mass.clamp_min(torch.finfo(P.dtype).tiny)[:, None]
        return torch.where(empty[:, None], bag_mean.expand_as(aligned), aligned)

    def forward(self, P: torch.Tensor, G: torch.Tensor) -> SynergyOutput:
        """P: (N, d) patch tokens; G: (G, d) genomic tokens → SynergyOutput."""
        plan = self.transport(P, G)
        aligned = self.aligned_tokens(P, plan, len(G))  # (G, d)
        if self.interleave:
            seq = torch.stack([aligned, G], dim=1).flatten(0, 1)  # (2G, d): p̃1, g1, p̃2, g2, …
        else:
            seq = torch.cat([aligned, G])  # (2G, d): p̃…, g…
        fused, _ = self.bimamba(seq)
        pooled, weights = self.pool(fused)
        if self.mmd_weight > 0:
            stride = max(1, -(-len(P) // MMD_MAX_PATCHES))
            penalty = mmd(fused, P[::stride]) + mmd(fused, G)
            penalty = self.mmd_weight * penalty
        else:
            penalty = fused.new_zeros(())
        return SynergyOutput(pooled=pooled, attention=weights, plan=plan, mmd=penalty)
