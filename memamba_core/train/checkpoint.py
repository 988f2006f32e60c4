"""Checkpoints: ``fold_<k>/model.safetensors`` + ``fold_<k>/meta.json``. No pickles.

``meta.json`` holds everything needed to use the weights on a new cohort: the
model config, the training config, the genomic scaler fitted on the fold's
training patients, the time-bin cut-points, the gene groups, the feature width
D_in, the cohort name, the fold's training/validation case ids and its metrics.

:func:`load_checkpoint` accepts a fold folder, a run folder (then a fold is
picked: ``fold`` or the first finished one), or the ``model.safetensors`` file
itself. Every failure is an :class:`~memamba_core.errors.InputError` that says
what is wrong: a missing or corrupt file, a file that is not safetensors, or
weights that do not fit the stored model config (which keys, which shapes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from ..data import GeneGroups, GenomicScaler
from ..errors import InputError
from ..models import ModelConfig, build_model
from ..paths import atomic_write_bytes, atomic_write_text

__all__ = ["LoadedModel", "save_fold", "load_checkpoint", "load_state_into", "read_state", "META_FORMAT"]

META_FORMAT = "memamba-fold"


@dataclass
class LoadedModel:
    """A trained model ready for inference (``model`` is in eval mode).

    ``cuts``: (K-1,) bin cut-points in months of the fold's training patients;
    ``scaler``: the genomic standardisation of those patients (None without
    genomics); ``groups``: the gene groups the genomic tokens follow;
    ``val_case_ids``: the patients this model did not train on (its
    out-of-fold patients), so a viewer can tell honest predictions apart.
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

    @property
    def n_bins(self) -> int:
        return int(self.config.n_bins)


def _to_plain_state(model: nn.Module) -> dict[str, torch.Tensor]:
    module = getattr(model, "module", model)  # unwrap DistributedDataParallel
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def save_fold(fold_dir: Path, model: nn.Module, meta: dict) -> None:
    """Write ``model.safetensors`` then ``meta.json`` (both atomically; meta last marks the fold finished)."""
    fold_dir = Path(fold_dir)
    fold_dir.mkdir(parents=True, exist_ok=True)
    state = _to_plain_state(model)
    atomic_write_bytes(fold_dir / "model.safetensors", st_save(state, metadata={"format": META_FORMAT}))
    meta = {"format": META_FORMAT, "version": 1, **meta}
    atomic_write_text(fold_dir / "meta.json", json.dumps(meta, indent=2, sort_keys=True))


def _pick_fold_dir(path: Path, fold: int | None) -> Path:
    if path.is_file():
        if path.name == "meta.json" or path.suffix == ".safetensors":
            return path.parent
        raise InputError(f"{path}: not a checkpoint; give a fold folder (fold_<k>/), a run folder, or its model.safetensors.")
    if not path.is_dir():
        raise InputError(f"{path}: no such checkpoint; give a fold folder (fold_<k>/) or a run folder made by `memamba train`.")
    if (path / "meta.json").is_file() or (path / "model.safetensors").is_file():
        if fold is not None and path.name != f"fold_{fold}":
            raise InputError(f"{path}: is a single fold's folder; fold={fold} applies to run folders only.")
        return path
    folds = sorted(
        (int(d.name.split("_", 1)[1]), d)
        for d in path.glob("fold_*")
        if d.name.split("_", 1)[1].isdigit() and (d / "meta.json").is_file()
    )
    if not folds:
        raise InputError(f"{path}: holds no finished fold (fold_<k>/meta.json); train first with `memamba train`, or give another folder.")
    if fold is None:
        return folds[0][1]
    for k, d in folds:
        if k == fold:
            return d
    raise InputError(f"{path}: fold {fold} is not finished there; finished folds: {', '.join(str(k) for k, _ in folds)}.")


def _read_meta(d: Path) -> dict:
    p = d / "meta.json"
    if not p.is_file():
        raise InputError(f"{p}: missing; a checkpoint folder needs meta.json next to model.safetensors (the run may have been interrupted — rerun it).")
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{p}: corrupt checkpoint metadata ({err}); retrain this fold (delete the fold folder and rerun).") from err
    if not isinstance(meta, dict) or meta.get("format") != META_FORMAT:
        raise InputError(f"{p}: not a memamba checkpoint (format {meta.get('format') if isinstance(meta, dict) else None!r}).")
    for key in ("model_config", "cuts"):
        if key not in meta:
            raise InputError(f"{p}: checkpoint metadata lacks '{key}'; the file is damaged — retrain this fold.")
    return meta


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file; InputError for a missing, corrupt or non-safetensors file."""
    if not path.is_file():
        raise InputError(f"{path}: missing; the checkpoint has no weights file (model.safetensors).")
    data = path.read_bytes()
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as err:
        hint = ""
        if data[:2] == b"PK" or data[:1] == b"\x80":
            hint = " It looks like a torch pickle (.pt); this project only loads safetensors."
        raise InputError(f"{path}: not a valid safetensors file ({err}).{hint} Retrain the fold or give the right file.") from err


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
            f"{where}: the weights do not match the model config in meta.json ({'. '.join(parts)}). "
            f"The checkpoint's config and weights come from different models; use the meta.json saved with these weights."
        )
    model.load_state_dict(state, strict=True)


def load_checkpoint(path: str | Path, fold: int | None = None, *, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a fold checkpoint into a :class:`LoadedModel` (eval mode, on ``device``).

    Args:
        path: a fold folder, a run folder (``fold`` or the first finished fold), or a model.safetensors file.
        fold: which fold of a run folder.

    Example::

        loaded = load_checkpoint("runs/demo")          # fold 0 of a run
        out, bag = predict_patient(loaded, cohort, cohort.case_ids()[0])
    """
    d = _pick_fold_dir(Path(path).expanduser().resolve(), fold)
    meta = _read_meta(d)
    try:
        cfg = ModelConfig.from_dict(meta["model_config"])
        model = build_model(cfg)
    except InputError as err:
        raise InputError(f"{d / 'meta.json'}: the stored model config is not usable ({err}).") from err
    load_state_into(model, read_state(d / "model.safetensors"), d / "model.safetensors")
    model.to(device).eval()
    scaler = GenomicScaler.from_dict(meta["scaler"]) if meta.get("scaler") else None
    groups = GeneGroups.from_dict(meta["groups"]) if meta.get("groups") else None
    return LoadedModel(
        model=model,
        config=cfg,
        scaler=scaler,
        cuts=np.asarray(meta["cuts"], dtype=float),
        groups=groups,
        feature_dim=meta.get("feature_dim"),
        cohort_name=str(meta.get("cohort", "")),
        fold=meta.get("fold"),
        path=d,
        train_case_ids=tuple(meta.get("train_case_ids", ())),
        val_case_ids=tuple(meta.get("val_case_ids", ())),
        metrics=dict(meta.get("metrics", {})),
        train_config=dict(meta.get("train_config", {})),
    )
