"""The one result object every model returns, and the helper that fills it.

Glossary: N patches, G genomic tokens, K time bins. Risk: higher = earlier event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..survival.discrete import hazards_from_logits, risk_from_survival, survival_from_hazards

__all__ = ["SurvivalOutput", "make_output"]


@dataclass
class SurvivalOutput:
    """Prediction for one patient, with everything the dashboard draws.

    Attributes:
        logits: (K,) raw scores of the time bins.
        hazards: (K,) h_k = sigmoid(logit_k).
        survival: (K,) S_k = Π_{m≤k} (1 − h_m).
        risk: () −Σ_k S_k (higher = earlier event).
        attention: weights that sum to 1 over their tokens:
            ``"pathology/ranked"`` (N,) the ranked branch's scorer (last layer),
            ``"pathology/pool"`` (N,) the expert's pooling, the same under
            ``"genomics/…"`` (G,), and ``"synergy/pool"`` (2G,) over the fused
            sequence (interleaved [p̃1, g1, …] or concatenated [p̃…, g…]).
        transport_plan: (N, G) rows sum to 1 (each patch's mass), or None
            (OT off, or a modality missing).
        expert_weights: the head's weight per expert ("pathology", "genomics",
            "synergy"; absent experts 0.0), summing to 1.
        mmd: () the weighted MMD term to add to the loss (0 when off).
        expert_logits: (K,) logits of the head applied to each expert's pooled vector
            alone (ME-Mamba with more than one expert; else empty): what each expert
            predicts by itself, used by the trainer's ``expert_aux_weight``.
    """

    logits: torch.Tensor
    hazards: torch.Tensor
    survival: torch.Tensor
    risk: torch.Tensor
    attention: dict[str, torch.Tensor] = field(default_factory=dict)
    transport_plan: torch.Tensor | None = None
    expert_weights: dict[str, float] = field(default_factory=dict)
    mmd: torch.Tensor | None = None
    expert_logits: dict[str, torch.Tensor] = field(default_factory=dict)


def make_output(
    logits: torch.Tensor,
    attention: dict[str, torch.Tensor] | None = None,
    transport_plan: torch.Tensor | None = None,
    expert_weights: dict[str, float] | None = None,
    mmd: torch.Tensor | None = None,
    expert_logits: dict[str, torch.Tensor] | None = None,
) -> SurvivalOutput:
    """Build a :class:`SurvivalOutput` from (K,) logits (hazards, survival, risk derived)."""
    hazards = hazards_from_logits(logits)
    survival = survival_from_hazards(hazards)
    return SurvivalOutput(
        logits=logits,
        hazards=hazards,
        survival=survival,
        risk=risk_from_survival(survival),
        attention=attention or {},
        transport_plan=transport_plan,
        expert_weights=expert_weights or {},
        mmd=logits.new_zeros(()) if mmd is None else mmd,
        expert_logits=expert_logits or {},
    )
