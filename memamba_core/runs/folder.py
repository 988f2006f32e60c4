"""Writing a run folder: start or resume it under a lock, log progress, write each fold, rebuild the run outputs.

Every final file is written atomically (temporary file + rename), so a killed
run never leaves a half-written file under a final name; a fold's marker (meta
or selection record) is written last. The progress log (``RunPaths.progress``) is append-only.

Resume: :meth:`RunFolder.start` with the same record on the same folder returns
the finished folds to skip, which are never rewritten. A folder made with a
different record (config, cohort or folds) is refused, unless ``force=True``,
which moves the previous outputs into ``<run>/replaced-<UTC time>/`` first.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Callable

import pandas as pd

from ..errors import InputError
from ..paths import atomic_write_text
from .layout import FoldPaths, RunPaths
from .predictions import read_predictions_csv, write_predictions_csv
from .read import finished_folds, read_fold_meta, read_run_record, read_selection
from .records import RUN_FORMAT, FoldMeta, Selection

__all__ = ["RunFolder", "write_fold_meta", "write_demo_spec", "write_acceptance"]


def _diff(old, new, prefix: str = "") -> list[str]:
    """Human-readable differences between two JSON values (at most a few)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            if k not in old or k not in new or old[k] != new[k]:
                if isinstance(old.get(k), dict) and isinstance(new.get(k), dict):
                    out += _diff(old[k], new[k], f"{prefix}{k}.")
                elif isinstance(old.get(k), list) and isinstance(new.get(k), list) and len(str(old.get(k))) > 80:
                    out.append(f"{prefix}{k} differs")
                else:
                    out.append(f"{prefix}{k}: {old.get(k, '<absent>')!r} → {new.get(k, '<absent>')!r}")
        return out
    return [f"{prefix.rstrip('.')} differs"]


def _with_defaults(old: dict, new: dict, defaults: dict) -> dict:
    """``old`` with each ``defaults`` key it lacks filled in where ``new`` has exactly that default;
    nested dicts of ``defaults`` apply to the same nesting of the records."""
    out = dict(old)
    for k, v in defaults.items():
        if k not in out:
            if k in new and new[k] == v:
                out[k] = v
        elif isinstance(v, dict) and isinstance(out[k], dict) and isinstance(new.get(k), dict):
            out[k] = _with_defaults(out[k], new[k], v)
    return out


def _missing_top(path: Path) -> Path | None:
    """The outermost missing folder on the way to ``path`` (None when ``path`` exists)."""
    top = None
    for d in [path, *path.parents]:
        if d.exists():
            break
        top = d
    return top


def _json(data: dict, *, sort_keys: bool = True) -> str:
    return json.dumps(data, indent=2, sort_keys=sort_keys, allow_nan=False, default=str)


class RunFolder:
    """A run folder being written by one process (``kind``: ``"cv"`` or ``"nested"``); ``paths`` names its files."""

    def __init__(self, path: str | Path, kind: str = "cv"):
        self.path = Path(path).expanduser().resolve()
        self.paths = RunPaths(self.path)
        self.kind = kind
        self._lock_fh = None

    def fold(self, k: int) -> FoldPaths:
        return self.paths.fold(k)

    # ---- state ----------------------------------------------------------
    def finished_folds(self) -> list[int]:
        """Fold numbers whose results are complete, ascending."""
        return finished_folds(self.path, self.kind)

    def fold_record(self, k: int) -> FoldMeta | Selection:
        """Fold k's marker record (meta of a cv run, selection of a nested run)."""
        return read_selection(self.fold(k)) if self.kind == "nested" else read_fold_meta(self.fold(k))

    # ---- starting / resuming -------------------------------------------
    def start(self, record: dict, *, force: bool = False, defaults: dict | None = None) -> list[int]:
        """Create or resume the folder for ``record`` (config + cohort + folds, see :class:`~.records.RunRecord`).

        Returns the finished folds to skip. Raises InputError, writing nothing,
        when the folder holds a run with a different record (unless ``force``)
        or unrelated files. ``defaults`` (nested like the record, e.g. {"train": {key: default}}): a key a run
        folder's record lacks (made before the option existed) counts as that
        default, so runs of an earlier version still resume when the new option is off.
        """
        record = json.loads(json.dumps({"format": RUN_FORMAT, **record}))  # normalise tuples → lists
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"{self.path}: exists and is not a folder; choose another --out path (nothing was written).")
        made_dir = _missing_top(self.path)  # the outermost folder this call creates (None: it exists)
        made_lock = made_dir is not None or not self.paths.lock.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._acquire_lock()
        except InputError:
            self._undo(None, made_lock=False)
            raise
        try:
            return self._start_locked(record, force, defaults)
        except BaseException:
            self.release()
            self._undo(made_dir, made_lock)
            raise

    def _undo(self, made_dir: Path | None, made_lock: bool) -> None:
        """Remove what a refused start created (the lock file, the folders it made): a refusal leaves nothing behind."""
        if made_lock:
            try:
                self.paths.lock.unlink()
            except FileNotFoundError:
                pass
        if made_dir is not None:
            for d in [self.path, *self.path.parents]:
                try:
                    d.rmdir()  # only while empty
                except OSError:
                    break
                if d == made_dir:
                    break

    def _start_locked(self, record: dict, force: bool, defaults: dict | None) -> list[int]:
        old = read_run_record(self.path)
        old = None if old is None else old.to_dict()
        if old is None:
            stray = self.paths.foreign_entries()
            if stray:
                # --force replaces only our own run outputs: a folder without a run record is someone else's
                raise InputError(
                    f"{self.path}: the folder is not empty ({', '.join(stray[:5])}) and holds no memamba run "
                    f"config, so it is not a run folder of ours — not even --force writes into it; choose a new "
                    f"--out folder (nothing was written)."
                )
        else:
            old = _with_defaults(old, record, defaults or {})
        if old is not None and old != record:
            if not force:
                diffs = _diff(old, record)
                raise InputError(
                    f"{self.path}: this run folder was made with a different configuration "
                    f"({'; '.join(diffs[:6])}{' …' if len(diffs) > 6 else ''}). Results of different configs are "
                    f"never mixed: use a new --out folder, or --force to move the old results into a 'replaced-…' subfolder."
                )
            self._move_aside()
            old = None
        if old is None:
            atomic_write_text(self.paths.config, json.dumps(record, indent=2, sort_keys=True))
        return self.finished_folds()

    def _move_aside(self) -> None:
        dest = self.paths.replaced_dir(time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
        dest.mkdir()
        for p in list(self.path.iterdir()):
            if self.paths.is_output(p.name):
                os.replace(p, dest / p.name)

    def _acquire_lock(self) -> None:
        if self._lock_fh is not None:
            return
        fh = open(self.paths.lock, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise InputError(f"{self.path}: another process is training into this run folder; wait for it or use another --out.") from None
        self._lock_fh = fh

    def release(self) -> None:
        """Release the folder lock (idempotent)."""
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    # ---- writing --------------------------------------------------------
    def log(self, **record) -> None:
        """Append one JSON line to the progress log (with a UTC timestamp ``t``)."""
        line = json.dumps({"t": round(time.time(), 3), **record}) + "\n"
        fd = os.open(self.paths.progress, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)

    def new_fold(self, k: int) -> FoldPaths:
        """Fold k's folder, created if needed."""
        fold = self.fold(k)
        fold.dir.mkdir(parents=True, exist_ok=True)
        return fold

    def write_fold_predictions(self, k: int, frame: pd.DataFrame) -> None:
        """Fold k's prediction table (:func:`~.predictions.prediction_frame` with ``fold=k``)."""
        write_predictions_csv(self.new_fold(k).predictions, frame)

    def write_selection(self, k: int, selection: Selection) -> None:
        """A nested run's fold marker (written last: the fold is finished)."""
        atomic_write_text(self.new_fold(k).selection, _json(selection.to_dict(), sort_keys=False))

    def rebuild(self, summarize: Callable[[list, pd.DataFrame], dict]) -> dict:
        """Rebuild the out-of-fold table and the summary from the finished folds; returns the summary.

        ``summarize(records, oof)``: the summary dict from the finished folds' marker
        records (ascending fold) and their concatenated predictions.
        """
        ks = self.finished_folds()
        frames = [read_predictions_csv(self.fold(k).predictions) for k in ks]
        oof = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if frames:
            write_predictions_csv(self.paths.oof, oof)
        summary = summarize([self.fold_record(k) for k in ks], oof)
        self.write_summary(summary)
        return summary

    def write_summary(self, summary: dict) -> None:
        """Write the run's summary (atomically)."""
        atomic_write_text(self.paths.summary, _json(summary))


def write_fold_meta(fold: FoldPaths, meta: FoldMeta) -> None:
    """A fold's meta record (written after its weights: it marks the fold finished)."""
    atomic_write_text(fold.meta, json.dumps(meta.to_dict(), indent=2, sort_keys=True))



def write_demo_spec(run_dir: str | Path, spec: dict) -> None:
    """Record the demo generator spec a demo run was trained on (:func:`~.read.read_demo_spec` reads it)."""
    atomic_write_text(RunPaths(run_dir).demo_spec, json.dumps(spec, indent=1))


def write_acceptance(out_dir: str | Path, record: dict) -> Path:
    """The demo acceptance record of an ablation folder (``memamba demo --check``); returns its path."""
    p = RunPaths(out_dir).acceptance
    atomic_write_text(p, _json(record))
    return p
