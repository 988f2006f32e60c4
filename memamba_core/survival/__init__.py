"""Survival analysis: discrete-time bins and loss, metrics, Kaplan–Meier helpers."""

from .discrete import (
    assign_bins,
    bin_edges,
    hazards_from_logits,
    nll_loss,
    risk_from_survival,
    survival_from_hazards,
)
from .km import KMCurve, KMResult, hazard_ratios, km_curve, km_groups, logrank, number_at_risk, risk_groups
from .metrics import Estimate, c_index_ci, concordance, integrated_brier, ipcw_c_index, time_dependent_auc

__all__ = [
    "assign_bins",
    "bin_edges",
    "hazards_from_logits",
    "nll_loss",
    "risk_from_survival",
    "survival_from_hazards",
    "Estimate",
    "c_index_ci",
    "concordance",
    "integrated_brier",
    "ipcw_c_index",
    "time_dependent_auc",
    "KMCurve",
    "KMResult",
    "hazard_ratios",
    "km_curve",
    "km_groups",
    "logrank",
    "number_at_risk",
    "risk_groups",
]
