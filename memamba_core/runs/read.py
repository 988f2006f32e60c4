"""Readers of a run folder (plain JSON / pandas: the dashboard calls these at start-up without torch).

Every reader takes the run folder (``run_dir``) and returns a typed record, or
``None`` / ``[]`` when the file is not written yet; a file that is there but
damaged or foreign is an :class:`~memamba_core.errors.InputError` naming it and
the fix. Nothing here writes.

Finished folds: a cross-validated run's fold ``k`` is finished when
``fold_<k>/meta.json`` parses and names ``k`` and its weights and predictions
exist; a nested run's when ``fold_<k>/selection.json`` does and its predictions
exist (the marker is written last, so a killed run leaves an unfinished fold).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from .layout import WEIGHTS_SUFFIX, FoldPaths, RunPaths, fold_number
from .predictions import Predictions, parse_predictions, read_predictions_csv
from .records import FoldMeta, RunRecord, Selection, read_json

__all__ = [
    "read_run_record",
    "run_kind",
    "fold_done",
    "finished_folds",
    "locate_fold",
    "read_fold_meta",
    "read_selection",
    "fold_metas",
    "read_fold_predictions",
    "read_oof",
    "read_summary",
    "read_progress",
    "read_demo_spec",
    "read_acceptance",
]


def read_run_record(run_dir: str | Path) -> RunRecord | None:
    """The run's ``config.json`` (None when absent); InputError when it is unreadable or not a memamba run's."""
    p = RunPaths(run_dir).config
    if not p.is_file():
        return None
    data = read_json(p, "run config", "use a new run folder.")
    return RunRecord.from_dict(data, source=str(p))


def run_kind(run_dir: str | Path) -> str:
    """``"cv"`` or ``"nested"`` (a folder without a run record counts as cv)."""
    record = read_run_record(run_dir)
    return record.kind if record is not None else "cv"


def _marker(fold: FoldPaths, kind: str) -> tuple[Path, tuple[Path, ...]]:
    """(the fold's marker file, the files a finished fold also has) for a run of ``kind``."""
    if kind == "nested":
        return fold.selection, (fold.predictions,)
    return fold.meta, (fold.weights, fold.predictions)


def fold_done(run_dir: str | Path, k: int, kind: str = "cv") -> bool:
    """True when fold ``k``'s marker parses and names ``k``, and the fold's other files exist."""
    fold = RunPaths(run_dir).fold(k)
    marker, files = _marker(fold, kind)
    if not all(p.is_file() for p in files):
        return False
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("fold") == k


def finished_folds(run_dir: str | Path, kind: str | None = None) -> list[int]:
    """Fold numbers whose results are complete, ascending (``kind``: default from the run record)."""
    kind = kind or run_kind(run_dir)
    return [f.fold for f in RunPaths(run_dir).fold_dirs() if fold_done(run_dir, f.fold, kind)]


def locate_fold(path: str | Path, fold: int | None = None) -> FoldPaths:
    """The fold folder meant by ``path``: a fold folder, its weights or meta file, or a run folder.

    A run folder gives fold ``fold`` (default: its first fold with a meta record).
    InputError when there is no such checkpoint, saying what to give instead.
    """
    path = Path(path).expanduser().resolve()
    if path.is_file():
        fp = FoldPaths(path.parent)
        if path in (fp.meta, fp.weights) or path.suffix == WEIGHTS_SUFFIX:
            return fp
        raise InputError(f"{path}: not a checkpoint; give a fold folder (fold_<k>/), a run folder, or its weights file.")
    if not path.is_dir():
        raise InputError(f"{path}: no such checkpoint; give a fold folder (fold_<k>/) or a run folder made by `memamba train`.")
    here = FoldPaths(path)
    if here.looks_like_checkpoint():
        if fold is not None and fold_number(path) != fold:
            raise InputError(f"{path}: is a single fold's folder; fold={fold} applies to run folders only.")
        return here
    folds = [f for f in RunPaths(path).fold_dirs() if f.meta.is_file()]
    if not folds:
        raise InputError(f"{path}: holds no finished fold (no fold_<k>/ with a meta record); train first with "
                         f"`memamba train`, or give another folder.")
    if fold is None:
        return folds[0]
    for f in folds:
        if f.fold == fold:
            return f
    raise InputError(f"{path}: fold {fold} is not finished there; finished folds: {', '.join(str(f.fold) for f in folds)}.")


def read_fold_meta(fold: FoldPaths | str | Path) -> FoldMeta:
    """The meta record of a fold folder (a :class:`FoldPaths` or its directory)."""
    fold = fold if isinstance(fold, FoldPaths) else FoldPaths(Path(fold))
    p = fold.meta
    if not p.is_file():
        raise InputError(f"{p}: missing; a checkpoint folder needs its meta record next to the weights "
                         f"(the run may have been interrupted — rerun it).")
    data = read_json(p, "checkpoint metadata", "retrain this fold (delete the fold folder and rerun).")
    return FoldMeta.from_dict(data, source=str(p))


def read_selection(fold: FoldPaths | str | Path) -> Selection:
    """The selection record of a nested run's fold folder."""
    fold = fold if isinstance(fold, FoldPaths) else FoldPaths(Path(fold))
    data = read_json(fold.selection, "nested-selection record", "rerun this fold (delete the fold folder and rerun).")
    return Selection.from_dict(data, source=str(fold.selection))


def fold_metas(run_dir: str | Path) -> dict[int, FoldMeta | Selection]:
    """Fold → its marker record (meta of a cv run, selection of a nested run), for every finished fold."""
    kind = run_kind(run_dir)
    paths = RunPaths(run_dir)
    reader = read_selection if kind == "nested" else read_fold_meta
    return {k: reader(paths.fold(k)) for k in finished_folds(run_dir, kind)}


def read_fold_predictions(run_dir: str | Path, k: int) -> Predictions:
    """Fold ``k``'s own prediction table (``fold_<k>/predictions.csv``)."""
    p = RunPaths(run_dir).fold(k).predictions
    return parse_predictions(read_predictions_csv(p), source=str(p), require_fold=True)


def read_oof(run_dir: str | Path) -> Predictions | None:
    """The out-of-fold predictions of every finished fold, with each fold's cut points (None before the first fold).

    ``frame`` columns: case_id, fold, risk, survival_months, censorship (+ any
    others written); ``survival``: (n, K); ``cuts``: fold → (K − 1,) months.
    """
    paths = RunPaths(run_dir)
    if not paths.oof.is_file():
        return None
    preds = parse_predictions(read_predictions_csv(paths.oof), source=str(paths.oof), require_fold=True)
    kind = run_kind(run_dir)
    records = fold_metas(run_dir)
    for k in sorted(set(preds.frame["fold"]) - set(records)):
        marker, _ = _marker(paths.fold(int(k)), kind)
        if marker.is_file():
            (read_selection if kind == "nested" else read_fold_meta)(paths.fold(int(k)))  # says what is wrong with it
        raise InputError(f"{paths.oof}: has rows of fold {int(k)}, whose record {marker} is missing or names another fold; "
                         f"rerun the run's command to retrain that fold and rebuild the table.")
    preds.cuts = {k: np.asarray(rec.cuts, dtype=float) for k, rec in records.items()}
    return preds


def read_summary(run_dir: str | Path) -> dict | None:
    """The run's summary, ``RunPaths.summary`` (None before the first fold).

    A cv run: ``folds`` (per-fold metrics), ``mean``/``std`` per metric, ``pooled_c_index``,
    ``n_folds_finished``, ``complete``, plus ``cohort``, ``model``, ``fold_source``,
    ``excluded``. A nested run: ``procedure: "nested"``, ``folds``, ``mean_c_index``,
    ``std_c_index``, ``candidates``, ``n_folds_finished``, ``complete``.
    """
    p = RunPaths(run_dir).summary
    if not p.is_file():
        return None
    data = read_json(p, "run summary", "rerun the run's command to rebuild it.")
    if not isinstance(data, dict):
        raise InputError(f"{p}: not a run summary (expected a JSON object); rerun the run's command to rebuild it.")
    return data


def read_progress(run_dir: str | Path) -> list[dict]:
    """Every parseable line of the progress log, in order (empty list if none yet).

    Each record has ``t`` (UTC seconds) and ``event``: ``run_start`` / ``resume``
    (``folds``, ``skipping``), ``fold_start`` (``fold``, ``n_train``, ``n_val``),
    ``epoch`` (``fold``, ``epoch``, ``epochs``, ``loss``, ``train_c_index``, …),
    ``fold_end`` (``fold``, ``metrics``, ``seconds``), ``run_end``; nested runs also
    ``inner``; ablations ``variant``. A torn last line (a killed writer) is skipped.
    """
    p = RunPaths(run_dir).progress
    if not p.is_file():
        return []
    out = []
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def read_acceptance(out_dir: str | Path) -> dict | None:
    """The demo acceptance record of an ablation folder (``memamba demo --check``); None before it is written.

    Keys: ``c_index_mean`` (variant → mean C-index), ``full_beats_both``, ``attention_auroc``
    (attention key → ``{"mean", "median", "n_slides"}``, ``positive_class``), ``train_config``.
    """
    p = RunPaths(out_dir).acceptance
    if not p.is_file():
        return None
    data = read_json(p, "acceptance record", "rerun `memamba demo --check`.")
    if not isinstance(data, dict):
        raise InputError(f"{p}: not an acceptance record (expected a JSON object); rerun `memamba demo --check`.")
    return data


def read_demo_spec(run_dir: str | Path) -> dict | None:
    """The demo generator spec a demo run was trained on (None when absent or unreadable: the run is then stale)."""
    try:
        data = json.loads(RunPaths(run_dir).demo_spec.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
