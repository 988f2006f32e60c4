"""What every survival model shares: its config, input checks, and switch plumbing.

Glossary: N patches, D_in feature width, G genomic groups. One patient per call
(a batch of one, the field's convention).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError
from ..ssm import Mamba
from .config import ModelConfig

__all__ = ["SurvivalModel"]


class SurvivalModel(nn.Module):
    """Base class: ``forward(path (N, D_in) | None, omics [G × (size_g,)] | None) -> SurvivalOutput``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg

    def apply_config(self, cfg: ModelConfig) -> None:
        """Adopt ``cfg``'s switches (same weights). Subclasses extend; this sets the scan backend."""
        self.cfg = cfg
        for module in self.modules():
            if isinstance(module, Mamba):
                module.backend = cfg.backend

    def genomic_input_weights(self) -> list[nn.Parameter]:
        """The weight matrices that read raw genomic values, each (d, size_g) or (d, Σ size_g); [] if none.

        The trainer's ``l1_genomic`` soft-thresholds these (see ``train.loop.soft_threshold``).
        """
        return []

    def _inputs(
        self, path: torch.Tensor | None, omics: list[torch.Tensor] | None
    ) -> tuple[torch.Tensor | None, list[torch.Tensor] | None]:
        """Validate and keep the modalities this model uses; cast to the model's dtype/device.

        Returns (path (N, D_in) or None, omics list of G (size_g,) or None).

        Raises:
            InputError: wrong widths or group sizes, empty bag, or nothing usable left.
        """
        cfg = self.cfg
        ref = next(self.parameters())
        if path is not None and cfg.uses_pathology:
            if path.ndim != 2 or path.shape[1] != cfg.path_input_dim:
                raise InputError(
                    f"Patch features have shape {tuple(path.shape)}, but this model expects (N, {cfg.path_input_dim}); "
                    "extract features with the encoder the model was trained with."
                )
            if path.shape[0] == 0:
                raise InputError("The patch bag is empty (N = 0); pass None for a patient without pathology.")
            path = path.to(device=ref.device, dtype=ref.dtype)
        else:
            path = None
        if omics is not None and cfg.uses_genomics:
            sizes = tuple(int(t.numel()) for t in omics)
            if sizes != cfg.omic_sizes:
                raise InputError(
                    f"Genomic groups have sizes {list(sizes)}, but this model expects {list(cfg.omic_sizes)}; "
                    "use the gene groups the model was trained with."
                )
            omics = [t.reshape(-1).to(device=ref.device, dtype=ref.dtype) for t in omics]
        else:
            omics = None
        if path is None and omics is None:
            raise InputError(
                f"Nothing to predict from: model {cfg.model!r} (modalities={cfg.modalities!r}) uses "
                f"{'pathology ' if cfg.uses_pathology else ''}{'genomics' if cfg.uses_genomics else ''}, "
                "and this patient has none of it."
            )
        return path, omics
