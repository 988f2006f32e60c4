"""The one cohort ↔ model compatibility check (training, prediction and the dashboard's Home call it).

What a model needs from a cohort (:class:`Needs`) comes from a checkpoint's meta
record (without building the model), a loaded checkpoint, or a model config about
to be trained. :func:`compatibility_problems` compares it with a cohort and returns
*every* problem found, each a :class:`Problem` whose message says what differs
and how to fix it:

- ``model``: the checkpoint's model config is not usable by this version;
- ``modality``: the model reads patch features or gene groups the cohort lacks;
- ``feature_width``: the cohort's D_in is not the checkpoint's;
- ``gene_groups``: the group names (in order) differ from the checkpoint's;
- ``gene_columns``: a group has other genomic columns than the checkpoint's (one problem per group);
- ``time_bins``: the checkpoint's cut points are not K − 1 finite, increasing months (a model
  to be trained fits its own bins per fold; folds without events are refused there).

Which patients a compatible model can score (those with a modality it reads) is
:func:`memamba_core.train.examples.eligible_ids`'s.

:func:`require_compatible` raises them all as one :class:`~memamba_core.errors.InputError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..data import Cohort
from ..errors import InputError
from ..models import ModelConfig
from ..runs import FoldMeta

if TYPE_CHECKING:  # a loaded checkpoint holds a torch model; checking a fold's meta record needs no torch
    from .checkpoint import LoadedModel

__all__ = ["Problem", "Needs", "needs_of", "compatibility_problems", "require_compatible", "PROBLEM_KINDS"]

PROBLEM_KINDS = ("model", "modality", "feature_width", "gene_groups", "gene_columns", "time_bins")


@dataclass(frozen=True)
class Problem:
    """One incompatibility: ``kind`` (one of :data:`PROBLEM_KINDS`) and a message saying what to fix."""

    kind: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Needs:
    """What a model needs from a cohort.

    ``feature_dim`` / ``group_names`` / ``group_columns`` / ``cuts``: a trained
    checkpoint's (None: a model about to be trained, which takes the cohort's).
    ``config``: None when the stored model config is not usable (``config_error`` says why).
    """

    where: str
    config: ModelConfig | None
    n_bins: int
    feature_dim: int | None = None
    group_names: tuple[str, ...] | None = None
    group_columns: tuple[tuple[str, ...], ...] | None = None
    cuts: tuple[float, ...] | None = None
    config_error: str = ""

    @property
    def pathology(self) -> bool:
        return self.config is not None and self.config.uses_pathology

    @property
    def genomics(self) -> bool:
        return self.config is not None and self.config.uses_genomics

    @classmethod
    def from_meta(cls, meta: FoldMeta, where: str = "checkpoint") -> Needs:
        """From a fold's meta record (no weights read, no model built)."""
        try:
            cfg, err = ModelConfig.from_dict(meta.model_config), ""
        except (InputError, TypeError) as e:
            cfg, err = None, str(e)
        dim = cfg.path_input_dim if cfg is not None and cfg.uses_pathology else meta.feature_dim
        return cls(where, cfg, int(cfg.n_bins) if cfg is not None else meta.n_bins, dim,
                   meta.group_names if meta.groups else None, meta.group_columns if meta.groups else None,
                   tuple(meta.cuts), err)

    @classmethod
    def from_loaded(cls, loaded: LoadedModel) -> Needs:
        """From a loaded checkpoint."""
        cfg, g = loaded.config, loaded.groups
        return cls(f"checkpoint {loaded.path}", cfg, int(cfg.n_bins), cfg.path_input_dim if cfg.uses_pathology else None,
                   g.names if g is not None else None, g.columns if g is not None else None,
                   tuple(float(c) for c in loaded.cuts))

    @classmethod
    def for_training(cls, cfg: ModelConfig, n_bins: int) -> Needs:
        """A model config about to be trained with ``n_bins`` time bins (any D_in, the cohort's gene groups)."""
        return cls(f"model '{cfg.model}' (modalities '{cfg.modalities}')", cfg, int(n_bins))


def needs_of(model) -> Needs:
    """:class:`Needs` of a :class:`Needs`, a :class:`~memamba_core.runs.FoldMeta` or a loaded checkpoint."""
    if isinstance(model, Needs):
        return model
    if isinstance(model, FoldMeta):
        return Needs.from_meta(model)
    from .checkpoint import LoadedModel

    if isinstance(model, LoadedModel):
        return Needs.from_loaded(model)
    raise TypeError(f"needs_of: expected Needs, FoldMeta or LoadedModel, got {type(model).__name__}")


def _few(items, n: int = 4) -> str:
    items = list(items)
    return ", ".join(items[:n]) + (f" … ({len(items)} in all)" if len(items) > n else "")


def _bins(needs: Needs) -> list[Problem]:
    """A checkpoint's cut points must give its K bins (a model to be trained fits its own, per fold)."""
    cuts = needs.cuts
    if cuts is None:
        return []
    if len(cuts) != needs.n_bins - 1:
        return [Problem("time_bins", f"{needs.where} has {len(cuts)} time-bin cut points for K = {needs.n_bins} bins; "
                                     f"its meta record is damaged — retrain it.")]
    if any(not math.isfinite(c) for c in cuts) or any(b < a for a, b in zip(cuts, cuts[1:])):
        return [Problem("time_bins", f"{needs.where}: the time-bin cut points {list(cuts)} are not finite and increasing; "
                                     f"its meta record is damaged — retrain it.")]
    return []


def _genomics(needs: Needs, cohort: Cohort) -> list[Problem]:
    b = cohort.groups
    if b is None:
        want = f" (gene groups {_few(needs.group_names)})" if needs.group_names else ""
        return [Problem("modality", f"{needs.where} reads genomics{want} but cohort '{cohort.name}' has no gene groups: add "
                                    f"signatures.csv or pathways.csv and genomic columns, or use a model without genomics "
                                    f"(--modalities pathology, --model abmil).")]
    if needs.group_names is None:
        return []
    out = []
    if tuple(needs.group_names) != tuple(b.names):
        lacks = [n for n in needs.group_names if n not in b.names]
        extra = [n for n in b.names if n not in needs.group_names]
        parts = ([f"the cohort lacks {_few(lacks)}"] if lacks else []) + ([f"the cohort adds {_few(extra)}"] if extra else [])
        parts = parts or ["the same groups in another order"]
        out.append(Problem("gene_groups", f"{needs.where} was trained on gene groups ({_few(needs.group_names, 8)}) but cohort "
                                          f"'{cohort.name}' has ({_few(b.names, 8)}): {'; '.join(parts)}. Use the same "
                                          f"signatures/pathways file as the training cohort."))
    theirs = dict(zip(b.names, b.columns))
    for name, cols in zip(needs.group_names, needs.group_columns or ()):
        if name not in theirs or tuple(theirs[name]) == tuple(cols):
            continue
        mine = theirs[name]
        missing = [c for c in cols if c not in set(mine)]
        extra = [c for c in mine if c not in set(cols)]
        parts = ([f"{len(missing)} of its {len(cols)} columns missing in the cohort ({_few(missing)})"] if missing else []) + \
                ([f"{len(extra)} column(s) the checkpoint did not train on ({_few(extra)})"] if extra else [])
        parts = parts or ["the same columns in another order"]
        out.append(Problem("gene_columns", f"{needs.where}: gene group {name!r} of cohort '{cohort.name}' differs: "
                                           f"{'; '.join(parts)}. The cohort must provide the genomic columns of the training cohort."))
    return out


def compatibility_problems(cohort: Cohort, model) -> list[Problem]:
    """Every problem that keeps ``cohort`` from feeding ``model`` (a :class:`Needs`, a fold meta or a loaded checkpoint).

    An empty list means the model can score (or be trained on) the cohort.
    """
    needs = needs_of(model)
    if needs.config is None:
        return [Problem("model", f"{needs.where}: the stored model config is not usable ({needs.config_error}); "
                                 f"use a checkpoint made by this version, or retrain it.")]
    out = []
    if needs.pathology:
        dim = cohort.feature_dim()
        if dim is None:
            want = f" (D_in = {needs.feature_dim})" if needs.feature_dim else ""
            out.append(Problem("modality", f"{needs.where} reads patch features{want} but cohort '{cohort.name}' ({cohort.root}) "
                                           f"has none (no pt_files/ or h5_files/): extract them (memamba extract), or use a "
                                           f"model without pathology (--modalities genomics, --model snn)."))
        elif needs.feature_dim is not None and dim != needs.feature_dim:
            out.append(Problem("feature_width", f"{needs.where} was trained on {needs.feature_dim}-dim patch features but cohort "
                                                f"'{cohort.name}' has {dim}-dim features: extract them with the same encoder as "
                                                f"the training cohort, or pick a matching checkpoint."))
    if needs.genomics:
        out += _genomics(needs, cohort)
    out += _bins(needs)
    return out


def require_compatible(cohort: Cohort, model) -> None:
    """InputError listing every problem of :func:`compatibility_problems` (nothing when there is none)."""
    problems = compatibility_problems(cohort, model)
    if len(problems) == 1:
        raise InputError(problems[0].message)
    if problems:
        raise InputError(f"{needs_of(model).where} does not fit cohort '{cohort.name}' ({len(problems)} problems):\n"
                         + "\n".join(f"  - {p.message}" for p in problems))
