"""The run folder: what a cross-validated run writes, and how a rerun resumes it.

Layout::

    <run>/config.json            training config + cohort identity + the folds (written first)
    <run>/progress.jsonl         one JSON object per line, appended live (the dashboard tails it)
    <run>/fold_<k>/model.safetensors
    <run>/fold_<k>/predictions.csv   this fold's out-of-fold predictions
    <run>/fold_<k>/meta.json     written last: the fold is finished when it exists and parses
    <run>/oof_predictions.csv    all finished folds' predictions (rebuilt after each fold)
    <run>/summary.json           per-fold + mean/std metrics (rebuilt after each fold)
    <run>/ablations.csv          (``memamba ablate`` only) one row per variant
    <run>/.lock                  held while a process trains into the folder

Every final file is written atomically (temporary file + rename), so a killed
run never leaves a half-written file under a final name. ``progress.jsonl`` is
an append-only log; a reader skips a line that does not parse.

Resume: rerunning the same command on the same folder skips the finished folds
and never rewrites them. A folder made with a different config (or another
cohort, or other folds) is refused, unless ``force=True``, which moves the
previous results into ``<run>/replaced-<UTC time>/`` before starting afresh.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from ..errors import InputError
from ..paths import atomic_write_text

__all__ = ["RunFolder", "read_progress", "survival_columns"]

FORMAT = "memamba-run"
_OUTPUTS = ("config.json", "progress.jsonl", "oof_predictions.csv", "summary.json", "ablations.csv")


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


class RunFolder:
    """One run folder (created on :meth:`start`). Paths are properties; writes are atomic."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser().resolve()
        self._lock_fh = None

    # ---- paths ----------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def progress_path(self) -> Path:
        return self.path / "progress.jsonl"

    @property
    def oof_path(self) -> Path:
        return self.path / "oof_predictions.csv"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    def fold_dir(self, k: int) -> Path:
        return self.path / f"fold_{k}"

    # ---- state ----------------------------------------------------------
    FOLD_FILES = ("model.safetensors", "predictions.csv")  # a finished fold's outputs
    FOLD_MARKER = "meta.json"  # written last; names its fold

    def fold_done(self, k: int) -> bool:
        """True when fold k's :attr:`FOLD_MARKER` parses and names k, and its :attr:`FOLD_FILES` exist."""
        d = self.fold_dir(k)
        if not all((d / name).is_file() for name in self.FOLD_FILES):
            return False
        try:
            meta = json.loads((d / self.FOLD_MARKER).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return False
        return isinstance(meta, dict) and meta.get("fold") == k

    def finished_folds(self) -> list[int]:
        """Fold numbers whose results are complete, ascending."""
        if not self.path.is_dir():
            return []
        ks = []
        for d in self.path.glob("fold_*"):
            try:
                k = int(d.name.split("_", 1)[1])
            except ValueError:
                continue
            if self.fold_done(k):
                ks.append(k)
        return sorted(ks)

    def read_config(self) -> dict | None:
        """The stored ``config.json`` (None if absent); InputError if it is not ours."""
        if not self.config_path.is_file():
            return None
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(f"{self.config_path}: not a readable run config ({err}); use a new run folder.") from err
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f"{self.config_path}: not a memamba run folder's config; use a new, empty run folder.")
        return data

    # ---- starting / resuming -------------------------------------------
    def start(self, record: dict, *, force: bool = False, defaults: dict | None = None) -> list[int]:
        """Create or resume the folder for ``record`` (config + cohort + folds).

        Returns the finished folds to skip. Raises InputError, writing nothing,
        when the folder holds a run with a different record (unless ``force``)
        or unrelated files. ``defaults`` (nested like the record, e.g. {"train": {key: default}}): a key a run
        folder's record lacks (made before the option existed) counts as that
        default, so runs of an earlier version still resume when the new option is off.
        """
        record = {"format": FORMAT, **record}
        record = json.loads(json.dumps(record))  # normalise tuples → lists
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"{self.path}: exists and is not a folder; choose another --out path.")
        self.path.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        old = self.read_config()
        if old is None:
            stray = [p.name for p in self.path.iterdir() if not p.name.startswith(".")]
            if stray and not force:
                self.release()
                raise InputError(
                    f"{self.path}: the folder is not empty ({', '.join(sorted(stray)[:5])}) and holds no run config; "
                    f"choose a new --out folder (nothing was written)."
                )
        else:
            old = _with_defaults(old, record, defaults or {})
        if old is not None and old != record:
            if not force:
                self.release()
                diffs = _diff(old, record)
                raise InputError(
                    f"{self.path}: this run folder was made with a different configuration "
                    f"({'; '.join(diffs[:6])}{' …' if len(diffs) > 6 else ''}). Results of different configs are "
                    f"never mixed: use a new --out folder, or --force to move the old results into a 'replaced-…' subfolder."
                )
            self._move_aside()
            old = None
        elif force:
            pass  # same config: --force changes nothing, the run resumes
        if old is None:
            atomic_write_text(self.config_path, json.dumps(record, indent=2, sort_keys=True))
        return self.finished_folds()

    def _move_aside(self) -> None:
        dest = self.path / time.strftime("replaced-%Y%m%dT%H%M%SZ", time.gmtime())
        dest.mkdir()
        for p in list(self.path.iterdir()):
            if p.name in _OUTPUTS or p.name.startswith("fold_"):
                os.replace(p, dest / p.name)

    def _acquire_lock(self) -> None:
        if self._lock_fh is not None:
            return
        fh = open(self.path / ".lock", "a+")
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
        """Append one JSON line to ``progress.jsonl`` (with a UTC timestamp ``t``)."""
        record = {"t": round(time.time(), 3), **record}
        line = json.dumps(record, sort_keys=False) + "\n"
        fd = os.open(self.progress_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)


def read_progress(run_dir: str | Path) -> list[dict]:
    """All parseable lines of ``<run_dir>/progress.jsonl`` (empty list if none yet)."""
    p = Path(run_dir) / "progress.jsonl"
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


def survival_columns(k: int) -> list[str]:
    """Names of the K survival-curve columns in prediction CSVs: ``S_1 … S_K`` (S_k = P(survive past bin k))."""
    return [f"S_{i + 1}" for i in range(k)]
