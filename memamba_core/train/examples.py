"""One fold's patients as model inputs: lazy bags, scaled genomic tokens, bins.

Glossary: N patches, D_in feature width, G genomic tokens, K bins.

Bags are read lazily through the cohort (its own LRU cache), so a cohort
larger than memory trains; genomic tokens are small and computed once per fold
with the fold's scaler.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import Cohort, GenomicScaler
from ..errors import InputError
from ..models import ModelConfig
from ..survival.discrete import assign_bins

__all__ = ["Example", "model_modalities", "make_examples", "eligible_ids", "subsample_patches", "check_fold_events"]


def model_modalities(cfg: ModelConfig) -> tuple[bool, bool]:
    """(uses pathology, uses genomics) for a model config."""
    return cfg.uses_pathology, cfg.uses_genomics


@dataclass
class Example:
    """One patient of a fold. ``omics``: G tensors (size_g,) or None; the bag is read on demand."""

    case_id: str
    cohort: Cohort
    use_path: bool
    omics: list[torch.Tensor] | None
    bin: int
    censorship: int
    time: float

    def features(self) -> torch.Tensor | None:
        """(N, D_in) float32 patch features, or None when the model or patient has no pathology."""
        if not self.use_path:
            return None
        bag = self.cohort.load_bag(self.case_id)
        return None if bag is None else bag.features


def eligible_ids(cohort: Cohort, cfg: ModelConfig) -> tuple[list[str], list[str]]:
    """(usable case ids, excluded case ids): a patient is usable when it has a modality the model uses."""
    use_p, use_g = model_modalities(cfg)
    ok, out = [], []
    for c in cohort.case_ids():
        if (use_p and cohort.has_pathology(c)) or (use_g and cohort.has_genomics(c)):
            ok.append(c)
        else:
            out.append(c)
    return ok, out


def make_examples(cohort: Cohort, ids, cfg: ModelConfig, scaler: GenomicScaler | None, cuts: np.ndarray) -> list[Example]:
    """Examples for ``ids`` with bins from ``cuts`` (the training fold's)."""
    use_p, use_g = model_modalities(cfg)
    pats = [cohort.patient(c) for c in ids]
    bins = assign_bins(np.array([p.survival_months for p in pats]), cuts)
    out = []
    for p, b in zip(pats, bins):
        omics = cohort.genomic_tokens(p.case_id, scaler) if use_g else None
        out.append(Example(p.case_id, cohort, use_p, omics, int(b), int(p.censorship), float(p.survival_months)))
    return out


def subsample_patches(features: torch.Tensor, max_n: int, rng: np.random.Generator) -> torch.Tensor:
    """A random subset of ``max_n`` rows of (N, D_in), kept in the original (spatial) order; all rows if N ≤ max_n or max_n = 0."""
    n = features.shape[0]
    if max_n <= 0 or n <= max_n:
        return features
    idx = np.sort(rng.choice(n, size=max_n, replace=False))
    return features[torch.from_numpy(idx)]


def check_fold_events(fold: int, train_ids, cohort: Cohort, split_source: str) -> None:
    """InputError when the training patients of a fold have no event."""
    if not any(cohort.patient(c).event for c in train_ids):
        raise InputError(
            f"fold {fold} ({split_source}): all {len(train_ids)} training patients are censored, so no time bins "
            f"or loss can be fitted; use folds with events in every training split (generated folds are stratified by event)."
        )
