"""Prediction tables: the one builder, the one CSV format, the one parser of the survival columns.

A prediction table has one row per patient::

    case_id, [fold,] risk, S_1 … S_K, survival_months, censorship, [other columns]

``risk`` follows the project's sign (higher = earlier event; ``risk = −Σ_k S_k``);
``S_k`` is the predicted probability of surviving past time bin k (the bins'
cut points in months are the fold's, kept in its meta or selection record).
Other columns pass through unchanged (``event``, ``in_training`` of
``memamba predict``; calibrated survival on a monthly grid will be added in a
later round under names that do not match ``S_<k>``).

A fold's table (``FoldPaths.predictions``), a run's out-of-fold table
(``RunPaths.oof``; file names in :mod:`memamba_core.runs.layout`) and ``memamba predict``'s output share this format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..paths import atomic_write_text

__all__ = ["survival_columns", "survival_column_names", "prediction_frame", "Predictions", "parse_predictions",
           "read_predictions_csv", "write_predictions_csv", "REQUIRED_COLUMNS"]

_S = re.compile(r"^S_(\d+)$")
REQUIRED_COLUMNS = ("case_id", "risk", "survival_months", "censorship")
_FLOAT_FORMAT = "%.6g"


def survival_columns(k: int) -> list[str]:
    """Names of the K survival-curve columns: ``S_1 … S_K`` (S_k = P(survive past bin k))."""
    return [f"S_{i + 1}" for i in range(k)]


def survival_column_names(columns, *, source: str = "prediction table") -> list[str]:
    """The ``S_<k>`` columns among ``columns``, ordered by k; InputError unless they are exactly S_1 … S_K."""
    found = sorted((int(m.group(1)), c) for c in columns if isinstance(c, str) and (m := _S.match(c)))
    names = [c for _, c in found]
    if names != survival_columns(len(names)):
        raise InputError(f"{source}: survival columns {', '.join(names) or '(none)'} are not S_1 … S_K; "
                         f"it was not written by memamba (rerun the command that made it).")
    return names


def prediction_frame(case_ids, risk, survival, *, fold: int | None = None, **columns) -> pd.DataFrame:
    """The prediction table of P patients.

    Args:
        case_ids: (P,) patient ids.
        risk: (P,) predicted risk (higher = earlier event).
        survival: (P, K) survival probability past each time bin.
        fold: the fold whose model predicted them (a ``fold`` column after ``case_id``); None: no column.
        columns: further (P,) columns, in order after the survival columns (e.g. ``survival_months``, ``censorship``).
    """
    ids = [str(c) for c in case_ids]
    risk = np.asarray(risk, dtype=float).reshape(-1)
    surv = np.asarray(survival, dtype=float)
    surv = surv if surv.ndim == 2 else surv.reshape(len(ids), -1)  # (P, K)
    df = pd.DataFrame({"case_id": ids})
    if fold is not None:
        df["fold"] = int(fold)
    df["risk"] = risk
    for j, col in enumerate(survival_columns(surv.shape[1])):
        df[col] = surv[:, j]
    for name, values in columns.items():
        df[name] = list(values)
    return df


@dataclass
class Predictions:
    """A parsed prediction table.

    ``frame``: every column but the survival ones (case_id, fold, risk, survival_months,
    censorship, …), one row per patient; ``survival``: (n, K) float survival matrix,
    rows aligned with ``frame``; ``cuts``: fold → (K − 1,) cut points in months of the
    model that predicted the fold's rows ({} when not known, e.g. a bare CSV).
    """

    frame: pd.DataFrame
    survival: np.ndarray
    cuts: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def n_bins(self) -> int:
        return int(self.survival.shape[1])

    @property
    def risk(self) -> np.ndarray:
        return self.frame["risk"].to_numpy(float)

    def to_frame(self) -> pd.DataFrame:
        """The table as written: survival columns back after ``risk``."""
        cols = list(self.frame.columns)
        at = cols.index("risk") + 1
        surv = pd.DataFrame(self.survival, columns=survival_columns(self.n_bins), index=self.frame.index)
        return pd.concat([self.frame[cols[:at]], surv, self.frame[cols[at:]]], axis=1)


def _rows(mask: np.ndarray) -> str:
    idx = np.flatnonzero(mask)
    return ", ".join(str(i + 2) for i in idx[:5]) + (" …" if idx.size > 5 else "")  # CSV line numbers (header = 1)


def parse_predictions(df: pd.DataFrame, *, source: str = "prediction table", require_fold: bool = False) -> Predictions:
    """Validate a prediction table and split off its (n, K) survival matrix.

    Raises InputError naming the file, the column and the rows: a missing column,
    a patient with more than one row, survival columns other than S_1 … S_K, non-finite or non-numeric risk / survival /
    survival_months, censorship other than 0/1, survival outside [0, 1].
    """
    need = list(REQUIRED_COLUMNS) + (["fold"] if require_fold else [])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {', '.join(missing)}; it was not written by memamba "
                         f"(rerun the command that made it).")
    s_cols = survival_column_names(df.columns, source=source)
    frame = df.drop(columns=s_cols).reset_index(drop=True)
    frame["case_id"] = frame["case_id"].astype(str)
    dup = frame["case_id"].duplicated(keep=False).to_numpy()
    if dup.any():  # a patient counted twice narrows every interval computed from the table
        names = ", ".join(list(dict.fromkeys(frame.loc[dup, "case_id"]))[:5])
        raise InputError(f"{source}: {int(frame['case_id'].duplicated().sum())} duplicated row(s) for patient(s) {names} "
                         f"(rows {_rows(dup)}); each patient has one prediction — rerun the command that wrote it.")
    numeric = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in ["risk", "survival_months", *s_cols]}
    for c, v in numeric.items():
        bad = ~np.isfinite(v)
        if bad.any():
            raise InputError(f"{source}: column {c} has {int(bad.sum())} missing or non-finite value(s) (rows {_rows(bad)}); "
                             f"rerun the command that wrote it.")
    cens = pd.to_numeric(df["censorship"], errors="coerce").to_numpy(float)
    bad = ~np.isin(cens, (0.0, 1.0))
    if bad.any():
        raise InputError(f"{source}: column censorship must be 0 or 1 (rows {_rows(bad)}).")
    surv = np.stack([numeric[c] for c in s_cols], axis=1) if s_cols else np.zeros((len(df), 0))
    bad = ((surv < 0) | (surv > 1)).any(axis=1)
    if bad.any():
        raise InputError(f"{source}: survival probabilities outside [0, 1] (rows {_rows(bad)}).")
    frame["risk"] = numeric["risk"]
    frame["survival_months"] = numeric["survival_months"]
    frame["censorship"] = cens.astype(int)
    if "fold" in frame:
        fold = pd.to_numeric(frame["fold"], errors="coerce")
        bad = fold.isna().to_numpy()
        if bad.any():
            raise InputError(f"{source}: column fold must hold fold numbers (rows {_rows(bad)}).")
        frame["fold"] = fold.astype(int)
    return Predictions(frame, surv)


def read_predictions_csv(path: Path) -> pd.DataFrame:
    """The raw table of a prediction CSV (``case_id`` read as text); InputError when it cannot be read."""
    try:
        return pd.read_csv(path, dtype={"case_id": str})
    except FileNotFoundError:
        raise InputError(f"{path}: missing; the run has no finished fold yet (train first, or rerun to rebuild it).") from None
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as err:
        raise InputError(f"{path}: cannot be read ({err}); rerun the command that wrote it to rebuild it.") from err


def write_predictions_csv(path: str | Path, df: pd.DataFrame) -> None:
    """Write a prediction table atomically (6 significant digits)."""
    atomic_write_text(path, df.to_csv(index=False, float_format=_FLOAT_FORMAT))
