"""Checkpoints: a fold's weights and meta record (the run-folder owner, :mod:`memamba_core.runs`, keeps the format).

The meta record (:class:`~memamba_core.runs.FoldMeta`) holds everything needed to
use the weights on a new cohort: the model config, the training config, the
genomic scaler fitted on the fold's training patients, the time-bin cut-points,
the gene groups, the feature width D_in, the cohort name, the fold's
training/validation case ids and its metrics.

:func:`load_checkpoint` accepts a fold folder, a run folder (then a fold is
picked: ``fold`` or the first finished one), or the fold's weights file itself.
Every failure is an :class:`~memamba_core.errors.InputError` that says what is
wrong: a missing or corrupt file, a file that is not safetensors, weights whose
bytes differ from the sha256 their meta records, weights holding NaN/inf, or
weights that do not fit the stored model config (which keys, which shapes). No pickles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data import GeneGroups, GenomicScaler
from ..errors import InputError
from ..models import ModelConfig, build_model
from ..runs import FoldMeta, FoldPaths, locate_fold, read_fold_meta, write_fold_meta
from ..runs.weights import read_weights, write_weights

__all__ = ["LoadedModel", "save_fold", "load_checkpoint", "load_state_into"]


@dataclass
class LoadedModel:
    """A trained model ready for inference (``model`` is in eval mode).

    ``cuts``: (K-1,) bin cut-points in months of the fold's training patients;
    ``scaler``: the genomic standardisation of those patients (None without
    genomics); ``groups``: the gene groups the genomic tokens follow;
    ``val_case_ids``: the patients this model did not train on (its
    out-of-fold patients), so a viewer can tell honest predictions apart;
    ``meta``: the fold's whole meta record.
    """

    model: nn.Module
    config: ModelConfig
    scaler: GenomicScaler | None
    cuts: np.ndarray
    groups: GeneGroups | None
    feature_dim: int | None
    cohort_name: str
    fold: int | None
    path: Path
    train_case_ids: tuple[str, ...] = ()
    val_case_ids: tuple[str, ...] = ()
    metrics: dict = field(default_factory=dict)
    train_config: dict = field(default_factory=dict)
    meta: FoldMeta | None = None  # the whole meta record (fields of later versions in ``meta.extra``)

    @property
    def n_bins(self) -> int:
        return int(self.config.n_bins)


def _to_plain_state(model: nn.Module) -> dict[str, torch.Tensor]:
    module = getattr(model, "module", model)  # unwrap DistributedDataParallel
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def save_fold(fold_dir: Path, model: nn.Module, meta: FoldMeta) -> None:
    """Write the fold's weights then its meta record (both atomically; the meta last marks the fold finished)."""
    fold = FoldPaths(Path(fold_dir))
    fold.dir.mkdir(parents=True, exist_ok=True)
    digest = write_weights(fold, _to_plain_state(model))
    write_fold_meta(fold, meta.with_weights_hash(digest))


def load_state_into(model: nn.Module, state: dict[str, torch.Tensor], where: Path) -> None:
    """Strictly load ``state``; a key or shape mismatch is an InputError naming them."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(own[k].shape) != tuple(state[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append(f"{len(shapes)} shape mismatch(es): {'; '.join(shapes[:3])}")
        if missing:
            parts.append(f"{len(missing)} key(s) the model needs are absent: {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"{len(unexpected)} key(s) the model does not have: {', '.join(unexpected[:3])}")
        raise InputError(
            f"{where}: the weights do not match the model config of the fold's meta record ({'. '.join(parts)}). "
            f"The checkpoint's config and weights come from different models; use the meta record saved with these weights."
        )
    model.load_state_dict(state, strict=True)


def load_checkpoint(path: str | Path, fold: int | None = None, *, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a fold checkpoint into a :class:`LoadedModel` (eval mode, on ``device``).

    Args:
        path: a fold folder, a run folder (``fold`` or the first finished fold), or a fold's weights file.
        fold: which fold of a run folder.

    Example::

        loaded = load_checkpoint("runs/demo")          # fold 0 of a run
        out, bag = predict_patient(loaded, cohort, cohort.case_ids()[0])
    """
    where = locate_fold(path, fold)
    meta = read_fold_meta(where)
    try:
        cfg = ModelConfig.from_dict(meta.model_config)
        model = build_model(cfg)
    except InputError as err:
        raise InputError(f"{where.meta}: the stored model config is not usable ({err}).") from err
    load_state_into(model, read_weights(where, sha256=meta.weights_sha256), where.weights)
    model.to(device).eval()
    return LoadedModel(
        model=model,
        config=cfg,
        scaler=GenomicScaler.from_dict(meta.scaler, source=where.meta) if meta.scaler else None,
        cuts=np.asarray(meta.cuts, dtype=float),
        groups=GeneGroups.from_dict(meta.groups, source=where.meta) if meta.groups else None,
        feature_dim=meta.feature_dim,
        cohort_name=str(meta.cohort),
        fold=meta.fold,
        path=where.dir,
        train_case_ids=meta.train_case_ids,
        val_case_ids=meta.val_case_ids,
        metrics=dict(meta.metrics),
        train_config=dict(meta.train_config),
        meta=meta,
    )
