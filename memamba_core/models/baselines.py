"""Baselines sharing ME-Mamba's code: ABMIL, SNN, a MambaMIL-like model, late fusion.

Glossary: N patches, D_in feature width, G genomic groups, d width, K bins.
Each takes ``forward(path (N, D_in) | None, omics [G × (size_g,)] | None)`` and
returns a :class:`~memamba_core.models.output.SurvivalOutput`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ssm import Mamba
from .base import SurvivalModel
from .config import ModelConfig
from .layers import GatedAttention, patch_projection, risk_mlp, snn_block
from .output import SurvivalOutput, make_output
from .registry import register_model

__all__ = ["ABMIL", "SNN", "MambaMIL", "LateFusion"]


class _ABMILEncoder(nn.Module):
    """Patches → Linear/ReLU/Dropout → gated attention pooling. (N, D_in) → ((d,), (N,))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.proj = patch_projection(cfg.path_input_dim, cfg.d_model, cfg.dropout)
        self.pool = GatedAttention(cfg.d_model, dropout=cfg.dropout)

    def forward(self, path: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pool(self.proj(path))


class _SNNEncoder(nn.Module):
    """MCAT's SNN on the concatenated groups: two SNN blocks. G × (size_g,) → (d,)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        total = sum(cfg.omic_sizes)
        self.net = nn.Sequential(
            snn_block(total, cfg.d_model, cfg.dropout), snn_block(cfg.d_model, cfg.d_model, cfg.dropout)
        )

    def forward(self, omics: list[torch.Tensor]) -> torch.Tensor:
        """G × (…, size_g) → (…, d); (…) an optional batch of patients."""
        return self.net(torch.cat(omics, dim=-1))


@register_model("abmil")
class ABMIL(SurvivalModel):
    """Gated-attention MIL on the patch bag (pathology only)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.encoder = _ABMILEncoder(cfg)
        self.head = risk_mlp(cfg.d_model, cfg.d_model, cfg.n_bins, cfg.dropout)

    def forward(self, path: torch.Tensor | None, omics: list[torch.Tensor] | None = None) -> SurvivalOutput:
        path, _ = self._inputs(path, None)
        pooled, weights = self.encoder(path)
        return make_output(
            self.head(pooled), attention={"pathology/pool": weights.detach()}, expert_weights={"pathology": 1.0}
        )


@register_model("snn")
class SNN(SurvivalModel):
    """MCAT's self-normalising network on the concatenated gene groups (genomics only)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.encoder = _SNNEncoder(cfg)
        self.head = nn.Linear(cfg.d_model, cfg.n_bins)

    def genomic_input_weights(self) -> list[nn.Parameter]:
        return [self.encoder.net[0][0].weight]

    def forward(self, path: torch.Tensor | None, omics: list[torch.Tensor] | None) -> SurvivalOutput:
        _, omics = self._inputs(None, omics)
        return make_output(self.head(self.encoder(omics)), expert_weights={"genomics": 1.0})

    def genomics_logits(self, omics: list[torch.Tensor]) -> torch.Tensor:
        """omics: G tensors (B, size_g) → logits (B, K)."""
        return self.head(self.encoder(self._batch_omics(omics)))


@register_model("mambamil")
class MambaMIL(SurvivalModel):
    """MambaMIL-like: projection, ``n_layers`` pre-norm residual Mamba layers, LayerNorm, attention pooling."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        d = cfg.d_model
        self.proj = patch_projection(cfg.path_input_dim, d, cfg.dropout)
        self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(cfg.n_layers))
        self.mambas = nn.ModuleList(
            Mamba(d, d_state=cfg.d_state, d_conv=cfg.d_conv, expand=cfg.expand) for _ in range(cfg.n_layers)
        )
        self.norm = nn.LayerNorm(d)
        self.pool = GatedAttention(d, dropout=cfg.dropout)
        self.head = risk_mlp(d, d, cfg.n_bins, cfg.dropout)
        self.apply_config(cfg)

    def forward(self, path: torch.Tensor | None, omics: list[torch.Tensor] | None = None) -> SurvivalOutput:
        path, _ = self._inputs(path, None)
        x = self.proj(path)[None]  # (1, N, d)
        for norm, mamba in zip(self.norms, self.mambas):
            x = x + mamba(norm(x))
        pooled, weights = self.pool(self.norm(x[0]))
        return make_output(
            self.head(pooled), attention={"pathology/pool": weights.detach()}, expert_weights={"pathology": 1.0}
        )


@register_model("late_fusion")
class LateFusion(SurvivalModel):
    """ABMIL (pathology) and SNN (genomics) embeddings concatenated → MLP head.

    A missing modality contributes a zero vector; ``expert_weights`` gives each
    present modality an equal share (concatenation learns no weights).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.path = _ABMILEncoder(cfg)
        self.omic = _SNNEncoder(cfg)
        self.head = risk_mlp(2 * cfg.d_model, cfg.d_model, cfg.n_bins, cfg.dropout)

    def genomic_input_weights(self) -> list[nn.Parameter]:
        return [self.omic.net[0][0].weight]

    def forward(self, path: torch.Tensor | None, omics: list[torch.Tensor] | None) -> SurvivalOutput:
        path, omics = self._inputs(path, omics)
        ref = next(self.parameters())
        zeros = ref.new_zeros(self.cfg.d_model)
        attention = {}
        if path is not None:
            p, weights = self.path(path)
            attention["pathology/pool"] = weights.detach()
        else:
            p = zeros
        g = self.omic(omics) if omics is not None else zeros
        present = [n for n, x in (("pathology", path), ("genomics", omics)) if x is not None]
        shares = {"pathology": 0.0, "genomics": 0.0} | {n: 1.0 / len(present) for n in present}
        return make_output(self.head(torch.cat([p, g])), attention=attention, expert_weights=shares)

    def genomics_logits(self, omics: list[torch.Tensor]) -> torch.Tensor:
        """omics: G tensors (B, size_g) → logits (B, K) with modalities='genomics' (zero pathology half)."""
        g = self.omic(self._batch_omics(omics))  # (B, d)
        return self.head(torch.cat([torch.zeros_like(g), g], dim=-1))
