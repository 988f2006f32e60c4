"""Every run-folder file the dashboard reads, one function per thing (import-light: json and pandas).

A run folder (``memamba train``; layout in ``docs/training.md``)::

    <run>/config.json  <run>/summary.json  <run>/oof_predictions.csv  <run>/progress.jsonl
    <run>/fold_<k>/meta.json  <run>/fold_<k>/model.safetensors
    <ablation out>/ablations.csv  with each variant's run in <ablation out>/<variant>/

This module is the dashboard's only reader of those files, so that switching
to the library's run-folder owner is a change in one place. Readers return
None (or an empty list) when a file is absent and raise
:class:`~memamba_core.errors.InputError` naming the file when it is unreadable.
The checkpoint itself (weights) is loaded by ``memamba_core.train.load_checkpoint``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

__all__ = ["FoldCard", "ablation_table", "fold_card", "oof_predictions", "progress_records", "run_dir_of",
           "run_stamp", "run_summary", "stamp", "survival_matrix"]

_META, _MODEL = "meta.json", "model.safetensors"
_SUMMARY, _OOF, _PROGRESS, _ABLATIONS = "summary.json", "oof_predictions.csv", "progress.jsonl", "ablations.csv"


def _fold_dir(path: str | Path) -> Path:
    """The fold folder a checkpoint path names: a fold folder, its model file, or a run folder (its first fold)."""
    p = Path(path).expanduser()
    if p.is_file():
        return p.parent
    if (p / _META).is_file() or (p / _MODEL).is_file():
        return p
    folds = sorted((int(d.name[5:]), d) for d in p.glob("fold_*") if d.name[5:].isdigit() and (d / _META).is_file())
    if not folds:
        raise InputError(f"{p}: holds no finished fold (fold_<k>/meta.json); train first with `memamba train`, "
                         "or give another folder.")
    return folds[0][1]


def run_dir_of(path: str | Path) -> Path:
    """The run folder of a checkpoint path (a run folder, a fold folder, or a fold's model file)."""
    d = _fold_dir(path)
    return d.parent if d.name.startswith("fold_") else d


def stamp(path: str | Path) -> tuple[int, int] | None:
    """(mtime_ns, size) of a file, or None when it is absent: a cache key that changes when the file is rewritten."""
    try:
        s = Path(path).stat()
    except OSError:
        return None
    return s.st_mtime_ns, s.st_size


def run_stamp(path: str | Path) -> tuple:
    """Stamps of every file of the run of ``path`` that this module reads (a cache key for all of them)."""
    d = _fold_dir(path)
    run = run_dir_of(path)
    files = (d / _META, run / _SUMMARY, run / _OOF, run / _ABLATIONS, run.parent / _ABLATIONS)
    return tuple(stamp(f) for f in files)


def _json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{path}: not readable JSON ({err}); the run folder may be damaged — re-run `memamba train`.") from err
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object; the run folder may be damaged — re-run `memamba train`.")
    return data


@dataclass(frozen=True)
class FoldCard:
    """What a fold checkpoint is, read from its ``meta.json`` without building the model.

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
    d = _fold_dir(path)
    meta = _json(d / _META)
    if meta is None:
        raise InputError(f"{d}: no {_META}; give a fold folder (fold_<k>/) or a run folder made by `memamba train`.")
    try:
        cfg = dict(meta["model_config"])
        groups = meta.get("groups") or {}
        return FoldCard(
            path=d, model=str(cfg.get("model", "?")), modalities=str(cfg.get("modalities", "?")),
            cohort_name=str(meta.get("cohort", "")), fold=meta.get("fold"),
            n_train=len(meta.get("train_case_ids", ())), n_val=len(meta.get("val_case_ids", ())),
            cuts=tuple(float(c) for c in meta["cuts"]), feature_dim=meta.get("feature_dim"),
            group_names=tuple(groups.get("names", ())), group_columns=tuple(tuple(c) for c in groups.get("columns", ())),
            switches={k: cfg[k] for k in _SWITCHES if k in cfg}, metrics=dict(meta.get("metrics", {})),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{d / _META}: missing or malformed field ({err}); the checkpoint may be damaged — "
                         "re-run `memamba train`.") from err


def run_summary(run_dir: str | Path) -> dict | None:
    """The run's ``summary.json`` (per-fold and mean metrics), or None before the run ends."""
    return _json(Path(run_dir) / _SUMMARY)


def oof_predictions(run_dir: str | Path):
    """The run's out-of-fold predictions (``case_id`` as str, ``fold``, ``risk``, ``S_1..S_K``,
    ``survival_months``, ``censorship``), or None when the run has none."""
    import pandas as pd

    f = Path(run_dir) / _OOF
    if not f.is_file():
        return None
    try:
        df = pd.read_csv(f, dtype={"case_id": str})
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise InputError(f"{f}: not a readable CSV ({err}); re-run `memamba train` or `memamba evaluate`.") from err
    missing = {"case_id", "risk", "survival_months", "censorship"} - set(df.columns)
    if missing:
        raise InputError(f"{f}: missing column(s) {', '.join(sorted(missing))}; re-run `memamba train`.")
    return df


def survival_matrix(preds):
    """(n, K) predicted survival curves from a prediction table's ``S_1..S_K`` columns."""
    cols = sorted((c for c in preds.columns if c.startswith("S_") and c[2:].isdigit()), key=lambda c: int(c[2:]))
    return preds[cols].to_numpy(dtype=float)


def ablation_table(run_dir: str | Path):
    """The cross-validated ablation table for this run, or None.

    Looked for in the run folder itself (a table shipped beside a checkpoint)
    and, when the run is one variant of ``memamba ablate --out OUT``
    (``OUT/<variant>/``), in ``OUT``.
    """
    import pandas as pd

    run = Path(run_dir)
    for f in (run / _ABLATIONS, run.parent / _ABLATIONS):
        if f.is_file():
            try:
                return pd.read_csv(f)
            except (OSError, ValueError, pd.errors.ParserError) as err:
                raise InputError(f"{f}: not a readable CSV ({err}); re-run `memamba ablate`.") from err
    return None


def progress_records(run_dir: str | Path) -> list[dict]:
    """Every parseable record of the run's ``progress.jsonl`` (empty before the run starts; a torn last line is skipped)."""
    p = Path(run_dir) / _PROGRESS
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out
