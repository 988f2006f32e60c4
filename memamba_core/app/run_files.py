"""What the dashboard reads from a run folder, one function per thing, through the run-folder owner.

The file names, schemas and readers belong to :mod:`memamba_core.runs` (layout
in ``memamba_core/runs/layout.py``); this module only adapts them to what the
pages show — a :class:`FoldCard` of a checkpoint, the run's summary and
out-of-fold predictions, its ablation table, its progress records — and gives
each a cache stamp. Readers return None (or an empty list) when a file is
absent and raise :class:`~memamba_core.errors.InputError` naming the file when
it is unreadable. Import-light: json, numpy and pandas only; the weights are
loaded by ``memamba_core.train.load_checkpoint``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import runs
from ..runs import FoldPaths, RunPaths

__all__ = ["FoldCard", "ablation_table", "fold_card", "oof_predictions", "progress_records", "run_dir_of",
           "run_stamp", "run_summary", "stamp", "survival_matrix"]


def _fold(path: str | Path) -> FoldPaths:
    """The fold folder a checkpoint path names: a fold folder, its weights or meta file, or a run folder (its first fold)."""
    return runs.locate_fold(path)


def run_dir_of(path: str | Path) -> Path:
    """The run folder of a checkpoint path (a run folder, a fold folder, or a fold's weights file)."""
    d = _fold(path).dir
    return d.parent if runs.fold_number(d) is not None else d


def stamp(path: str | Path) -> tuple[int, int] | None:
    """(mtime_ns, size) of a file, or None when it is absent: a cache key that changes when the file is rewritten."""
    try:
        s = Path(path).stat()
    except OSError:
        return None
    return s.st_mtime_ns, s.st_size


def run_stamp(path: str | Path) -> tuple:
    """Stamps of every file of the run of ``path`` that this module reads (a cache key for all of them)."""
    fold = _fold(path)
    run = RunPaths(run_dir_of(path))
    files = (fold.meta, fold.weights, run.summary, run.oof, run.ablations, RunPaths(run.root.parent).ablations)
    return tuple(stamp(f) for f in files)


@dataclass(frozen=True)
class FoldCard:
    """What a fold checkpoint is, read from its meta record without building the model.

    ``uses_pathology`` / ``uses_genomics``: the model reads patch features
    (then ``feature_dim`` is D_in) / gene groups (then ``group_names`` and
    ``group_columns`` are the G groups it was trained on). ``cuts``: the K-1
    bin cut-points in months.
    """

    path: Path                     # the fold folder
    model: str
    modalities: str
    cohort_name: str
    fold: int | None
    n_train: int
    n_val: int
    cuts: tuple[float, ...]
    feature_dim: int | None
    group_names: tuple[str, ...]
    group_columns: tuple[tuple[str, ...], ...]
    switches: dict
    metrics: dict

    @property
    def uses_pathology(self) -> bool:
        return self.feature_dim is not None

    @property
    def uses_genomics(self) -> bool:
        return bool(self.group_names)

    @property
    def n_bins(self) -> int:
        return len(self.cuts) + 1


_SWITCHES = ("scan_forward", "scan_reverse", "scan_ranked", "ot", "mmd_weight", "interleave")


def fold_card(path: str | Path) -> FoldCard:
    """The :class:`FoldCard` of the checkpoint at ``path`` (run folder → its first finished fold)."""
    fold = _fold(path)
    meta = runs.read_fold_meta(fold)
    cfg = dict(meta.model_config)
    return FoldCard(
        path=fold.dir, model=str(cfg.get("model", "?")), modalities=str(cfg.get("modalities", "?")),
        cohort_name=str(meta.cohort or ""), fold=meta.fold, n_train=len(meta.train_case_ids), n_val=len(meta.val_case_ids),
        cuts=tuple(meta.cuts), feature_dim=meta.feature_dim, group_names=meta.group_names,
        group_columns=meta.group_columns, switches={k: cfg[k] for k in _SWITCHES if k in cfg}, metrics=dict(meta.metrics),
    )


def run_summary(run_dir: str | Path) -> dict | None:
    """The run's summary (per-fold and mean metrics), or None before the first fold ends."""
    return runs.read_summary(run_dir)


def oof_predictions(run_dir: str | Path):
    """The run's out-of-fold predictions as a frame (``case_id`` as str, ``fold``, ``risk``, ``S_1..S_K``,
    ``survival_months``, ``censorship``), or None when the run has none."""
    preds = runs.read_oof(run_dir)
    return None if preds is None else preds.to_frame()


def survival_matrix(preds):
    """(n, K) predicted survival curves of a prediction frame (its survival columns, in bin order)."""
    return preds[runs.survival_column_names(preds.columns)].to_numpy(dtype=float)


def ablation_table(run_dir: str | Path):
    """The cross-validated ablation table that belongs to this run, or None (see :func:`memamba_core.runs.ablation_table`)."""
    return runs.ablation_table(run_dir)


def progress_records(run_dir: str | Path) -> list[dict]:
    """Every parseable record of the run's progress log (empty before the run starts; a torn last line is skipped)."""
    return runs.read_progress(run_dir)
