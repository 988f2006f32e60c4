"""Survival analysis: discrete-time bins and loss, metrics, Kaplan–Meier helpers."""

from .discrete import (
    assign_bins,
    bin_edges,
    hazards_from_logits,
    nll_loss,
    risk_from_survival,
    survival_from_hazards,
)

__all__ = [
    "assign_bins",
    "bin_edges",
    "hazards_from_logits",
    "nll_loss",
    "risk_from_survival",
    "survival_from_hazards",
]
