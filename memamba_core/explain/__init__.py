"""Explanations of one patient's prediction: integrated gradients, modality / patch / gene-group / gene drivers."""

from .drivers import (
    Drivers,
    GeneEffect,
    GroupEffect,
    ModalityEffect,
    PatchEffect,
    direction,
    explain,
    explain_patient,
    gene_effects,
    mean_drivers,
    modality_effects,
    patch_effects,
    risk_slope,
    scored_drivers,
)
from .integrated_gradients import Attribution, integrated_gradients

__all__ = [
    "Attribution",
    "Drivers",
    "GeneEffect",
    "GroupEffect",
    "ModalityEffect",
    "PatchEffect",
    "direction",
    "explain",
    "explain_patient",
    "gene_effects",
    "integrated_gradients",
    "mean_drivers",
    "modality_effects",
    "patch_effects",
    "risk_slope",
    "scored_drivers",
]
