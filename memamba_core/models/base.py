"""What every survival model shares: its config, input checks, and switch plumbing.

Glossary: N patches, D_in feature width, G genomic groups, B patients. One patient per
``forward`` call (a batch of one, the field's convention); genomics-only models also
take a batch of B patients in :meth:`SurvivalModel.genomics_logits` (the trainer's fast path).
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

    @property
    def batches_genomics(self) -> bool:
        """Whether :meth:`genomics_logits` applies: the model reads genomics and no pathology (fixed-shape inputs)."""
        return self.cfg.uses_genomics and not self.cfg.uses_pathology

    def genomics_logits(self, omics: list[torch.Tensor]) -> torch.Tensor:
        """A genomics-only pass over a batch of patients: omics G tensors (B, size_g) → logits (B, K).

        Row b is ``forward(None, [o[b] for o in omics]).logits`` (up to float
        rounding; dropout masks are drawn for the whole batch). The trainer's
        fast path for genomics-only models (see ``train.loop``).

        Raises:
            InputError: the model reads pathology or no genomics, or the groups do not match ``omic_sizes``.
        """
        raise InputError(f"model {self.cfg.model!r} (modalities={self.cfg.modalities!r}) has no batched genomics-only pass.")

    def _batch_omics(self, omics: list[torch.Tensor]) -> list[torch.Tensor]:
        """Validate a batch for :meth:`genomics_logits`; cast to the model's dtype/device. G × (B, size_g) → same."""
        cfg = self.cfg
        if not self.batches_genomics:
            raise InputError(
                f"model {cfg.model!r} with modalities={cfg.modalities!r} reads "
                f"{'pathology' if cfg.uses_pathology else 'no genomics'}; a batched genomics-only pass needs "
                "a model that reads genomics alone (modalities='genomics', or model 'snn')."
            )
        shapes = [tuple(t.shape) for t in omics]
        if len(shapes) != len(cfg.omic_sizes) or any(len(s) != 2 or s[0] != shapes[0][0] for s in shapes) or tuple(
            s[1] for s in shapes
        ) != cfg.omic_sizes:
            raise InputError(
                f"A batch of genomic groups has shapes {shapes}, but this model expects (B, size) for sizes "
                f"{list(cfg.omic_sizes)} with one B; stack the patients' groups along a first axis."
            )
        ref = next(self.parameters())
        return [t.to(device=ref.device, dtype=ref.dtype) for t in omics]

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
