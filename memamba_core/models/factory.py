"""Build a model from its config; change a loaded model's switches for inference."""

from __future__ import annotations

import copy
import dataclasses

from ..errors import InputError
from .base import SurvivalModel
from .config import SWITCHES, ModelConfig
from .registry import model_entry

__all__ = ["build_model", "with_switches"]


def build_model(cfg: ModelConfig) -> SurvivalModel:
    """A freshly initialised model of kind ``cfg.model`` (its class from the registry; seed torch first for reproducibility).

    Raises:
        InputError: the model reads genomics (``model``/``modalities``) but ``omic_sizes`` is empty.

    Example:
        >>> import torch
        >>> model = build_model(ModelConfig(path_input_dim=8, omic_sizes=(3, 5), d_model=16, n_layers=1))
        >>> out = model(torch.randn(10, 8), [torch.randn(3), torch.randn(5)])
        >>> out.survival.shape, out.transport_plan.shape
        (torch.Size([4]), torch.Size([10, 2]))
    """
    cfg.check_buildable()
    model = model_entry(cfg.model).cls(cfg)
    model.apply_config(cfg)
    return model


def with_switches(model: SurvivalModel, **changes) -> SurvivalModel:
    """A copy of ``model`` with the same weights and some switches changed (for inference).

    Only fields in :data:`~memamba_core.models.config.SWITCHES` may change
    (scan branches, ot, sinkhorn settings, mmd_weight, interleave, modalities,
    backend); the original model is left as it was.

    Raises:
        InputError: an unknown field, a field that would change the weights
        (e.g. d_model), or an invalid value.
    """
    bad = sorted(k for k in changes if k not in SWITCHES)
    if bad:
        raise InputError(
            f"with_switches cannot change {', '.join(bad)}: only {', '.join(SWITCHES)} can change on a trained model."
        )
    cfg = dataclasses.replace(model.cfg, **changes)
    cfg.check_buildable()
    new = copy.deepcopy(model)
    new.apply_config(cfg)
    return new
