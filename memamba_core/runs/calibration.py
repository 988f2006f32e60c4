"""A run's calibration: each fold model's calibration map and the calibrated out-of-fold table.

Two run-level files (names in :mod:`.layout`):

- ``RunPaths.calibration`` (JSON): ``{"format", "version", "source", "min_at_risk",
  "folds": {"<k>": <CalibrationMap.to_dict()>}, "fingerprints": {"<k>": sha256 of
  fold k's predictions table}}``. Fold k's map was fitted on training patients
  of fold k only (:func:`memamba_core.train.scoring.calibrate_run`). The
  fingerprints tie the maps to the fold predictions they were fitted from: a
  fold retrained since (other predictions) makes the file stale, and the reader
  says so instead of serving a map of other weights.
- ``RunPaths.calibrated_oof`` (CSV): one row per out-of-fold patient: ``case_id,
  fold, risk, survival_months, censorship, percentile, risk_group`` and the
  calibrated survival on the monthly grid, ``surv_<m>m`` for m = 0, 1, … months
  (blank beyond the follow-up the patient's fold map supports). These names do
  not match ``S_<k>``: the model's own step curves stay in the prediction tables.

Reading the maps imports :mod:`memamba_core.survival.calibration` (scipy) on first
use only, so importing :mod:`memamba_core.runs` stays light.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..paths import atomic_write_text
from .layout import RunPaths
from .records import read_json

__all__ = ["CALIBRATION_FORMAT", "RunCalibration", "fold_fingerprints", "read_calibration", "write_calibration",
           "calibration_state", "monthly_columns", "write_calibrated_oof", "read_calibrated_oof"]

CALIBRATION_FORMAT = "memamba-run-calibration"
_VERSION = 1
_MONTH = re.compile(r"^surv_(\d+)m$")


def monthly_columns(n_months: int) -> list[str]:
    """Names of the calibrated monthly survival columns for months 0 … n_months − 1."""
    return [f"surv_{m}m" for m in range(int(n_months))]


def fold_fingerprints(run_dir: str | Path, folds) -> dict[int, str]:
    """fold → sha256 of its predictions table (what its calibration was fitted from); InputError when one is missing."""
    paths = RunPaths(run_dir)
    out = {}
    for k in folds:
        p = paths.fold(int(k)).predictions
        try:
            out[int(k)] = hashlib.sha256(p.read_bytes()).hexdigest()
        except OSError as err:
            raise InputError(f"{p}: cannot be read ({err}); the fold is not finished — rerun `memamba train`.") from err
    return out


@dataclass
class RunCalibration:
    """The calibration maps of a run. ``maps``: fold → :class:`~memamba_core.survival.calibration.CalibrationMap`."""

    maps: dict
    source: str
    min_at_risk: int
    fingerprints: dict[int, str] = field(default_factory=dict)

    @property
    def folds(self) -> tuple[int, ...]:
        return tuple(sorted(self.maps))

    def to_dict(self) -> dict:
        return {"format": CALIBRATION_FORMAT, "version": _VERSION, "source": self.source, "min_at_risk": int(self.min_at_risk),
                "folds": {str(k): self.maps[k].to_dict() for k in self.folds},
                "fingerprints": {str(k): v for k, v in sorted(self.fingerprints.items())}}


def write_calibration(run_dir: str | Path, maps: dict, *, source: str, min_at_risk: int) -> Path:
    """Write the run's calibration file atomically (fingerprints from the fold predictions on disk now)."""
    if not maps:
        raise InputError("calibration: no fold map to write.")
    cal = RunCalibration(dict(maps), source, int(min_at_risk), fold_fingerprints(run_dir, maps))
    p = RunPaths(run_dir).calibration
    atomic_write_text(p, json.dumps(cal.to_dict(), allow_nan=False))
    return p


def _fix(run_dir) -> str:
    return f"recompute it: `memamba calibrate {run_dir} COHORT`."


def read_calibration(run_dir: str | Path) -> RunCalibration | None:
    """The run's calibration (None when it has none yet).

    Raises:
        InputError: the file is damaged or edited (a map that does not refit to its stored β), or stale
        (a fold's predictions changed since, i.e. the fold was retrained) — the message says how to recompute it.
    """
    from ..survival.calibration import CalibrationMap

    p = RunPaths(run_dir).calibration
    if not p.is_file():
        return None
    data = read_json(p, "calibration file", _fix(run_dir))
    if not isinstance(data, dict) or data.get("format") != CALIBRATION_FORMAT or not isinstance(data.get("folds"), dict):
        raise InputError(f"{p}: not a memamba calibration file; {_fix(run_dir)}")
    try:
        folds = {int(k): v for k, v in data["folds"].items()}
        stored = {int(k): str(v) for k, v in dict(data.get("fingerprints") or {}).items()}
        min_at_risk = int(data["min_at_risk"])
        source = str(data["source"])
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{p}: incomplete or damaged ({err!r}); {_fix(run_dir)}") from err
    if not folds or set(stored) != set(folds):
        raise InputError(f"{p}: the folds of its maps and of its fingerprints differ; {_fix(run_dir)}")
    try:
        maps = {k: CalibrationMap.from_dict(v) for k, v in sorted(folds.items())}
    except InputError as err:
        raise InputError(f"{p}: {err} To {_fix(run_dir)}") from err
    now = {}
    for k in folds:
        fp = RunPaths(run_dir).fold(k).predictions
        now[k] = hashlib.sha256(fp.read_bytes()).hexdigest() if fp.is_file() else None
    changed = sorted(k for k in folds if now[k] != stored[k])
    if changed:
        raise InputError(f"{p}: stale — fold(s) {', '.join(map(str, changed))} were retrained (or removed) after the run was "
                         f"calibrated; {_fix(run_dir)}")
    return RunCalibration(maps, source, min_at_risk, stored)


def calibration_state(run_dir: str | Path) -> tuple[RunCalibration | None, str]:
    """(the run's calibration or None, a sentence for the page when there is none or it cannot be used)."""
    try:
        cal = read_calibration(run_dir)
    except InputError as err:
        return None, str(err)
    if cal is None:
        return None, (f"run '{Path(run_dir).name}' has no stored calibration yet; compute it with "
                      f"`memamba calibrate {run_dir} COHORT` (the cohort the run was trained on).")
    return cal, ""


def write_calibrated_oof(run_dir: str | Path, frame: pd.DataFrame) -> Path:
    """Write the calibrated out-of-fold table atomically (``frame``: the columns in the module docstring)."""
    need = ["case_id", "fold", "risk", "survival_months", "censorship", "percentile", "risk_group"]
    missing = [c for c in need if c not in frame.columns]
    if missing or not any(_MONTH.match(str(c)) for c in frame.columns):
        raise InputError(f"calibrated out-of-fold table: missing column(s) {', '.join(missing) or 'surv_<m>m'}.")
    p = RunPaths(run_dir).calibrated_oof
    atomic_write_text(p, frame.to_csv(index=False, float_format="%.6g"))
    return p


def read_calibrated_oof(run_dir: str | Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray] | None:
    """(frame without the monthly columns, months (M,), survival (n, M) with NaN beyond the supported follow-up), or None."""
    p = RunPaths(run_dir).calibrated_oof
    if not p.is_file():
        return None
    try:
        df = pd.read_csv(p, dtype={"case_id": str})
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as err:
        raise InputError(f"{p}: cannot be read ({err}); {_fix(run_dir)}") from err
    cols = sorted(((int(m.group(1)), c) for c in df.columns if (m := _MONTH.match(str(c)))))
    if not cols or [m for m, _ in cols] != list(range(len(cols))):
        raise InputError(f"{p}: its monthly columns are not surv_0m, surv_1m, …; {_fix(run_dir)}")
    surv = df[[c for _, c in cols]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    finite = surv[np.isfinite(surv)]
    if finite.size and ((finite < 0) | (finite > 1)).any():
        raise InputError(f"{p}: survival probabilities outside [0, 1]; {_fix(run_dir)}")
    return df.drop(columns=[c for _, c in cols]), np.array([m for m, _ in cols], dtype=float), surv
