"""Models: ME-Mamba (pathology, genomics and synergistic experts), the baselines, and the registry of models and choices.

The registry and ``ModelConfig`` import nothing heavy; the model classes, layers and
``build_model`` are imported (with torch) on first use.
"""

from .._lazy import lazy_getattr
from .config import SWITCHES, ModelConfig
from .registry import (ModelEntry, backend_choices, check_choice, choices, describe, describe_choice, modality_choices,
                       modality_reads, model_entry, model_names, model_reads, ot_choices, register_model)

_LAZY = {
    "base": ("SurvivalModel",),
    "baselines": ("ABMIL", "SNN", "LateFusion", "MambaMIL"),
    "experts": ("ExpertOutput", "ScanLayer", "UnimodalExpert"),
    "factory": ("build_model", "with_switches"),
    "memamba": ("MEMamba",),
    "output": ("SurvivalOutput", "make_output"),
    "synergy": ("SynergisticExpert",),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = sorted([
    "ModelConfig", "ModelEntry", "SWITCHES", "backend_choices", "check_choice", "choices", "describe", "describe_choice",
    "modality_choices", "modality_reads", "model_entry", "model_names", "model_reads", "ot_choices", "register_model",
    *_WHERE,
])

__getattr__ = lazy_getattr(__name__, _WHERE)


def __dir__():
    return __all__
