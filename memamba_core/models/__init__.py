"""Models: ME-Mamba (pathology, genomics and synergistic experts) and the baselines."""

from .base import SurvivalModel
from .baselines import ABMIL, SNN, LateFusion, MambaMIL
from .config import MODEL_NAMES, SWITCHES, ModelConfig
from .experts import ExpertOutput, ScanLayer, UnimodalExpert
from .factory import build_model, with_switches
from .memamba import MEMamba
from .output import SurvivalOutput, make_output
from .synergy import SynergisticExpert

__all__ = [
    "ABMIL",
    "ExpertOutput",
    "LateFusion",
    "MEMamba",
    "MODEL_NAMES",
    "MambaMIL",
    "ModelConfig",
    "SNN",
    "SWITCHES",
    "ScanLayer",
    "SurvivalModel",
    "SurvivalOutput",
    "SynergisticExpert",
    "UnimodalExpert",
    "build_model",
    "make_output",
    "with_switches",
]
