"""Typed records of a run folder: the run record (``config.json``), a fold's meta, a nested fold's selection.

Each record is a dataclass with ``from_dict`` (validating, InputError naming the
file and the field) and ``to_dict`` (the JSON written). Keys this version does
not know are kept in ``extra`` and written back unchanged, so a run folder of a
later version round-trips. Coming in a later round, and already carried through
``extra`` today: a per-fold calibration record (a baseline survival fitted on the
fold's training patients) and a content hash of the weights in the fold meta, the
survival endpoint in the run record. The weights hash is
``FoldMeta.weights_sha256`` (stored under ``weights_sha256``, checked at load).

Plain JSON only (no torch, no lifelines, no scikit-survival): the dashboard reads
these at start-up. The model and training configs stay dicts here;
``ModelConfig.from_dict`` / ``TrainConfig.from_dict`` turn them into objects.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

__all__ = ["RunRecord", "FoldMeta", "Selection", "RUN_FORMAT", "META_FORMAT", "META_VERSION", "read_json"]

RUN_FORMAT = "memamba-run"
META_FORMAT = "memamba-fold"
META_VERSION = 1
WEIGHTS_HASH_KEY = "weights_sha256"  # a fold meta's record of its weights' content hash (sha256 hex)


def read_json(path: Path, what: str, fix: str) -> object:
    """Parsed JSON of ``path``; InputError naming the file, ``what`` it should be and the ``fix``."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: missing; {fix}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: corrupt or unreadable {what} ({err}); {fix}") from err


def _split(cls, data: dict) -> tuple[dict, dict]:
    """(known fields, the rest) of ``data`` for dataclass ``cls``."""
    names = {f.name for f in dataclasses.fields(cls) if f.name != "extra"}
    return {k: v for k, v in data.items() if k in names}, {k: v for k, v in data.items() if k not in names}


def _finite_numbers(values, where: str, name: str) -> tuple[float, ...]:
    if not isinstance(values, (list, tuple)):
        raise InputError(f"{where}: '{name}' must be a list of numbers, got {type(values).__name__}.")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InputError(f"{where}: '{name}'[{i}] is {v!r}, not a finite number; the file is damaged — retrain this fold.")
        out.append(float(v))
    return tuple(out)


def _cuts(values, where: str) -> tuple[float, ...]:
    """Finite, non-decreasing time-bin cut points (InputError naming the file otherwise)."""
    cuts = _finite_numbers(values, where, "cuts")
    if any(b < a for a, b in zip(cuts, cuts[1:])):
        raise InputError(f"{where}: 'cuts' {list(cuts)} are not in increasing order; the file is damaged — retrain this fold.")
    return cuts


def _ids(values, where: str, name: str) -> tuple[str, ...]:
    if not isinstance(values, (list, tuple)):
        raise InputError(f"{where}: '{name}' must be a list of case ids.")
    return tuple(str(v) for v in values)


@dataclass
class RunRecord:
    """``config.json``: what decides a run, written when the run starts; a rerun must match it.

    ``procedure`` is ``None`` (a cross-validated run, ``memamba train``) or ``"nested"``;
    a cv run has ``train`` and ``model``, a nested run ``grid`` (candidate → training config).
    ``cohort``: ``{"name", "n_patients", "excluded"}``; ``folds``: ``[{"train": [...], "val": [...]}]``.
    A field the file lacks stays ``None`` and is not written back: ``to_dict`` returns the record as read.
    """

    cohort: dict | None = None
    folds: list | None = None
    fold_source: str | None = None
    train: dict | None = None
    model: dict | None = None
    grid: dict | None = None
    procedure: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``"cv"`` or ``"nested"``."""
        return self.procedure or "cv"

    @property
    def cohort_name(self) -> str:
        return str((self.cohort or {}).get("name", ""))

    @property
    def n_folds(self) -> int:
        return len(self.folds or ())

    def to_dict(self) -> dict:
        out = {"format": RUN_FORMAT}
        for f in dataclasses.fields(self):
            if f.name != "extra" and getattr(self, f.name) is not None:
                out[f.name] = getattr(self, f.name)
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, data: object, *, source: str = "run record") -> RunRecord:
        if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
            raise InputError(f"{source}: not a memamba run folder's config; use a new, empty run folder.")
        known, extra = _split(cls, {k: v for k, v in data.items() if k != "format"})
        if not isinstance(known.get("cohort", {}), dict) or not isinstance(known.get("folds", []), list):
            raise InputError(f"{source}: 'cohort' must be an object and 'folds' a list; the run record is damaged — use a new run folder.")
        return cls(**known, extra=extra)


@dataclass
class FoldMeta:
    """``fold_<k>/meta.json``: everything needed to use a fold's weights on a new cohort.

    ``model_config`` / ``train_config``: the configs as dicts; ``scaler``: the genomic
    standardisation fitted on the fold's training patients (``GenomicScaler.to_dict``)
    or None; ``cuts``: the (K − 1,) time-bin cut points in months; ``groups``: the gene
    groups (``{"names", "columns"}``, ``GeneGroups.to_dict``) or None; ``feature_dim``:
    D_in (None without pathology); ``train_survival``: ``{"times", "censorship"}`` of
    the training patients (IPCW and Brier scores need them).
    """

    fold: int
    model_config: dict
    cuts: tuple[float, ...]
    train_config: dict = field(default_factory=dict)
    scaler: dict | None = None
    groups: dict | None = None
    feature_dim: int | None = None
    cohort: str = ""
    metrics: dict = field(default_factory=dict)
    selected_epoch: int | None = None
    train_case_ids: tuple[str, ...] = ()
    val_case_ids: tuple[str, ...] = ()
    train_survival: dict | None = None
    history: list = field(default_factory=list)
    seconds: float | None = None
    version: int = META_VERSION
    extra: dict = field(default_factory=dict)

    @property
    def n_bins(self) -> int:
        """K, the number of time bins (cut points + 1)."""
        return len(self.cuts) + 1

    @property
    def weights_sha256(self) -> str | None:
        """sha256 (hex) of the fold's weights file as written at training, or None (a run of an earlier
        version): :func:`~.weights.read_weights` checks it. Kept under this key in the record."""
        return self.extra.get(WEIGHTS_HASH_KEY)

    def with_weights_hash(self, sha256: str) -> FoldMeta:
        """This record with the weights' content hash set."""
        return dataclasses.replace(self, extra={**self.extra, WEIGHTS_HASH_KEY: sha256})

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(self.groups["names"]) if self.groups else ()

    @property
    def group_columns(self) -> tuple[tuple[str, ...], ...]:
        """The genomic columns of each group, in group order (empty without genomics)."""
        return tuple(tuple(c) for c in self.groups["columns"]) if self.groups else ()

    def train_times(self) -> tuple[list[float], list[int]]:
        """(times, censorship) of the fold's training patients (empty lists when not recorded)."""
        tr = self.train_survival or {}
        return list(tr.get("times", [])), list(tr.get("censorship", []))

    def to_dict(self) -> dict:
        out = {"format": META_FORMAT}
        for f in dataclasses.fields(self):
            if f.name != "extra":
                value = getattr(self, f.name)
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, data: object, *, source: str = "fold meta") -> FoldMeta:
        if not isinstance(data, dict) or data.get("format") != META_FORMAT:
            fmt = data.get("format") if isinstance(data, dict) else None
            raise InputError(f"{source}: not a memamba checkpoint (format {fmt!r}).")
        for key in ("model_config", "cuts", "fold"):
            if key not in data:
                raise InputError(f"{source}: checkpoint metadata lacks '{key}'; the file is damaged — retrain this fold.")
        known, extra = _split(cls, {k: v for k, v in data.items() if k != "format"})
        if not isinstance(known["model_config"], dict):
            raise InputError(f"{source}: 'model_config' must be an object of ModelConfig fields; retrain this fold.")
        if isinstance(known["fold"], bool) or not isinstance(known["fold"], int):
            raise InputError(f"{source}: 'fold' must be an integer, got {known['fold']!r}; retrain this fold.")
        known["cuts"] = _cuts(known["cuts"], source)
        digest = extra.get(WEIGHTS_HASH_KEY)
        if digest is not None and not (isinstance(digest, str) and len(digest) == 64
                                       and all(ch in "0123456789abcdef" for ch in digest)):
            raise InputError(f"{source}: '{WEIGHTS_HASH_KEY}' must be the 64 hex digits of a sha256, got {str(digest)[:80]!r}; "
                             f"the record is damaged — retrain this fold (or remove the key to load without the check).")
        for name in ("train_case_ids", "val_case_ids"):
            if name in known:
                known[name] = _ids(known[name], source, name)
        if known.get("groups") is not None:
            g = known["groups"]
            if not (isinstance(g, dict) and isinstance(g.get("names"), list) and isinstance(g.get("columns"), list)
                    and len(g["names"]) == len(g["columns"])):
                raise InputError(f"{source}: 'groups' must be {{'names': [...], 'columns': [[...], ...]}} of equal length; retrain this fold.")
        fd = known.get("feature_dim")
        if fd is not None and (isinstance(fd, bool) or not isinstance(fd, int) or fd < 1):
            raise InputError(f"{source}: 'feature_dim' must be a positive integer or null, got {fd!r}; retrain this fold.")
        if known.get("train_survival") is not None:
            tr = known["train_survival"]
            if not isinstance(tr, dict):
                raise InputError(f"{source}: 'train_survival' must be {{'times': [...], 'censorship': [...]}}.")
            _finite_numbers(tr.get("times", []), source, "train_survival.times")
        return cls(**known, extra=extra)


@dataclass
class Selection:
    """``fold_<k>/selection.json`` of a nested run: every candidate's inner scores, the winner, its metrics.

    ``inner_scores``: candidate → ``{"mean": float | None, "inner": [C-index per inner fold]}``;
    ``member_c_index``: the validation C-index of each ensemble seed; ``reference_risk``: (n_train,) the
    final model's risks of its own training patients — the scale of its scale-free score when the run's
    out-of-fold predictions are calibrated (a nested run keeps no weights to recompute them); empty in a
    record written before they were kept.
    """

    fold: int
    chosen: str
    inner_scores: dict
    metrics: dict
    cuts: tuple[float, ...]
    member_c_index: list = field(default_factory=list)
    n_train: int = 0
    n_val: int = 0
    val_case_ids: tuple[str, ...] = ()
    seconds: float | None = None
    reference_risk: tuple[float, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def chosen_inner_mean(self) -> float | None:
        return self.inner_scores.get(self.chosen, {}).get("mean")

    def to_dict(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            if f.name != "extra":
                value = getattr(self, f.name)
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, data: object, *, source: str = "selection record") -> Selection:
        if not isinstance(data, dict):
            raise InputError(f"{source}: not a nested-selection record; rerun this fold.")
        for key in ("fold", "chosen", "inner_scores", "metrics", "cuts"):
            if key not in data:
                raise InputError(f"{source}: lacks '{key}'; the file is damaged — rerun this fold.")
        known, extra = _split(cls, data)
        known["cuts"] = _cuts(known["cuts"], source)
        if "val_case_ids" in known:
            known["val_case_ids"] = _ids(known["val_case_ids"], source, "val_case_ids")
        if "reference_risk" in known:
            known["reference_risk"] = _finite_numbers(known["reference_risk"], source, "reference_risk")
        if known["chosen"] not in known["inner_scores"]:
            raise InputError(f"{source}: the chosen candidate {known['chosen']!r} has no inner score; rerun this fold.")
        return cls(**known, extra=extra)
