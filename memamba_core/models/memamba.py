"""ME-Mamba: Pathology, Genomics and Synergistic Experts with an attention-aggregation head.

Glossary: N patches, D_in feature width, G genomic groups, d width, K bins.

path (N, D_in) → Linear/ReLU/Dropout → Pathology Expert ─┐
omics G × (size_g,) → per-group SNN → Genomics Expert ───┼→ attention over the pooled
      (expert tokens of both) → Synergistic Expert ──────┘   vectors → MLP → K logits

A missing modality (or one switched off by ``modalities``) removes its expert
and the Synergistic Expert from the aggregation.
"""

from __future__ import annotations

import torch

from .base import SurvivalModel
from .config import ModelConfig
from .experts import UnimodalExpert
from .layers import GatedAttention, GenomicEncoder, patch_projection, risk_mlp, rowwise
from .output import SurvivalOutput, make_output
from .registry import register_model
from .synergy import SynergisticExpert

__all__ = ["MEMamba", "EXPERTS"]

EXPERTS = ("pathology", "genomics", "synergy")


@register_model("memamba")  # its entry (reads, description, switches): registry.MODELS
class MEMamba(SurvivalModel):
    """The multi-expert Mamba survival model (see module docstring)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        d = cfg.d_model
        sizes = dict(d_state=cfg.d_state, d_conv=cfg.d_conv, expand=cfg.expand)
        self.path_proj = patch_projection(cfg.path_input_dim, d, cfg.dropout)
        self.omic_proj = GenomicEncoder(cfg.omic_sizes, d, cfg.dropout)
        self.path_expert = UnimodalExpert(d, cfg.n_layers, **sizes)
        self.omic_expert = UnimodalExpert(d, cfg.n_layers, **sizes)
        self.synergy = SynergisticExpert(d, **sizes)
        self.aggregate = GatedAttention(d)
        self.head = risk_mlp(d, d, cfg.n_bins, cfg.dropout)
        self.apply_config(cfg)

    def apply_config(self, cfg: ModelConfig) -> None:
        super().apply_config(cfg)
        self.path_expert.set_branches(cfg.branches)
        self.omic_expert.set_branches(cfg.branches)
        self.synergy.ot = cfg.ot
        self.synergy.sinkhorn_eps = cfg.sinkhorn_eps
        self.synergy.sinkhorn_iters = cfg.sinkhorn_iters
        self.synergy.interleave = cfg.interleave
        self.synergy.mmd_weight = cfg.mmd_weight

    def _project_patches(self, path: torch.Tensor) -> torch.Tensor:
        """(N, D_in) → (N, d) tokens; a long bag without autograd in pieces (:func:`~.layers.rowwise`)."""
        return rowwise(self.path_proj, path)

    def genomic_input_weights(self) -> list[torch.nn.Parameter]:
        return self.omic_proj.input_weights()

    def genomics_logits(self, omics: list[torch.Tensor]) -> torch.Tensor:
        """omics: G tensors (B, size_g) → logits (B, K); the genomics-only path of :meth:`forward`, batched."""
        g = self.omic_expert(self.omic_proj(self._batch_omics(omics)))  # tokens (B, G, d), pooled (B, d)
        fused, _ = self.aggregate(g.pooled[:, None])  # one expert: (B, 1, d) → (B, d), its weight 1
        return self.head(fused)

    def forward(self, path: torch.Tensor | None, omics: list[torch.Tensor] | None) -> SurvivalOutput:
        """path: (N, D_in) or None; omics: G tensors (size_g,) or None → SurvivalOutput."""
        path, omics = self._inputs(path, omics)
        pooled: dict[str, torch.Tensor] = {}
        attention: dict[str, torch.Tensor] = {}
        plan = None
        mmd = None
        if path is not None:
            p = self.path_expert(path, project=self._project_patches)
            pooled["pathology"] = p.pooled
            attention.update({f"pathology/{k}": v for k, v in p.attention.items()})
        if omics is not None:
            g = self.omic_expert(self.omic_proj(omics))
            pooled["genomics"] = g.pooled
            attention.update({f"genomics/{k}": v for k, v in g.attention.items()})
        if path is not None and omics is not None:
            s = self.synergy(p.tokens, g.tokens)
            pooled["synergy"] = s.pooled
            attention["synergy/pool"] = s.attention
            plan, mmd = s.plan, s.mmd
        names = list(pooled)
        fused, weights = self.aggregate(torch.stack([pooled[n] for n in names]))  # (k, d) → (d,), (k,)
        expert_weights = dict.fromkeys(EXPERTS, 0.0)
        expert_weights.update({n: float(w) for n, w in zip(names, weights.detach())})
        return make_output(
            self.head(fused),
            attention={k: v.detach() for k, v in attention.items()},
            transport_plan=plan,
            expert_weights=expert_weights,
            mmd=mmd,
            expert_logits={n: self.head(pooled[n]) for n in names} if len(names) > 1 else None,
        )
