"""Models: ME-Mamba (pathology, genomics and synergistic experts), the baselines, and the registry of models and choices."""

from .base import SurvivalModel
from .baselines import ABMIL, SNN, LateFusion, MambaMIL
from .config import SWITCHES, ModelConfig
from .experts import ExpertOutput, ScanLayer, UnimodalExpert
from .factory import build_model, with_switches
from .memamba import MEMamba
from .output import SurvivalOutput, make_output
from .registry import (ModelEntry, backend_choices, check_choice, choices, describe, describe_choice, modality_choices,
                       modality_reads, model_entry, model_names, model_reads, ot_choices, register_model)
from .synergy import SynergisticExpert

__all__ = [
    "ABMIL",
    "ExpertOutput",
    "LateFusion",
    "MEMamba",
    "MambaMIL",
    "ModelConfig",
    "ModelEntry",
    "SNN",
    "SWITCHES",
    "ScanLayer",
    "SurvivalModel",
    "SurvivalOutput",
    "SynergisticExpert",
    "UnimodalExpert",
    "backend_choices",
    "build_model",
    "check_choice",
    "choices",
    "describe",
    "describe_choice",
    "make_output",
    "modality_choices",
    "modality_reads",
    "model_entry",
    "model_names",
    "model_reads",
    "ot_choices",
    "register_model",
    "with_switches",
]
