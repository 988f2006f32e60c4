"""Per-patient genomic values and their standardisation.

Genomic columns are ``<GENE>_rnaseq|_cnv|_mut``, either in the label CSV (one
row per slide; a patient's first row is used) or in a separate genomics CSV
keyed by ``case_id``. :class:`GenomicMatrix` holds them as a (P, C) float32
array in the cohort's patient order; a missing value is NaN.

Missing values (NaN) — the rule, in one place:

* :class:`GenomicScaler` fits mean and std per column on the *training*
  patients' finite values only (``nanmean`` / ``nanstd``); a column with no
  finite training value gets mean 0, std 1; a std of 0 becomes 1.
* :meth:`GenomicScaler.transform` standardises, then sets NaN to 0 — i.e. a
  missing value is imputed with the training mean.
* A patient whose values are *all* missing has no genomics (``has_genomics``
  is False) rather than a token of zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .tables import read_table, row_list

__all__ = ["GenomicScaler", "GenomicMatrix", "genomics_from_labels", "genomics_from_file"]


class GenomicScaler:
    """Per-column standardisation fitted on training patients only.

    Learned state: ``mean_``, ``std_`` — (C,) float64, in the order of
    ``columns``. JSON-serialisable with :meth:`to_dict` / :meth:`from_dict`
    (checkpoints store it). See the module doc for missing values.

    Example::

        >>> s = GenomicScaler().fit(np.array([[1.0, 5.0], [3.0, np.nan]]), ("A_rnaseq", "B_cnv"))
        >>> s.transform(np.array([[2.0, np.nan]])).tolist()
        [[0.0, 0.0]]
    """

    def __init__(self, columns: tuple[str, ...] = (), mean_=None, std_=None):
        self.columns = tuple(columns)
        self.mean_ = np.zeros(len(self.columns)) if mean_ is None else np.asarray(mean_, dtype=np.float64)
        self.std_ = np.ones(len(self.columns)) if std_ is None else np.asarray(std_, dtype=np.float64)

    def fit(self, X: np.ndarray, columns: tuple[str, ...]) -> "GenomicScaler":
        """Fit on ``X``: (P_train, C) raw values, NaN = missing. Returns self."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(columns):
            raise ValueError(f"X must be (P, {len(columns)}), got {X.shape}")
        self.columns = tuple(columns)
        finite = np.isfinite(X)
        n = finite.sum(0)
        Xz = np.where(finite, X, 0.0)
        mean = np.divide(Xz.sum(0), n, out=np.zeros(X.shape[1]), where=n > 0)
        var = np.divide((np.where(finite, X - mean, 0.0) ** 2).sum(0), n, out=np.ones(X.shape[1]), where=n > 0)
        std = np.sqrt(var)
        std[~(std > 0)] = 1.0
        self.mean_, self.std_ = mean, std
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(..., C) raw → (..., C) float32 standardised, NaN → 0 (the training mean)."""
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.std_
        return np.nan_to_num(Z, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)

    def to_dict(self) -> dict:
        """JSON-safe dict: columns, mean, std (plain lists)."""
        return {"columns": list(self.columns), "mean": self.mean_.tolist(), "std": self.std_.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "GenomicScaler":
        try:
            cols, mean, std = tuple(d["columns"]), d["mean"], d["std"]
        except (KeyError, TypeError) as err:
            raise InputError(f"genomic scaler: expected keys columns, mean, std ({err}); the checkpoint is damaged.") from err
        if not (len(cols) == len(mean) == len(std)):
            raise InputError(
                f"genomic scaler: columns ({len(cols)}), mean ({len(mean)}) and std ({len(std)}) differ in length; "
                f"the checkpoint is damaged."
            )
        return cls(cols, np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64))

    def __repr__(self) -> str:
        return f"GenomicScaler(C={len(self.columns)})"


@dataclass
class GenomicMatrix:
    """Raw genomic values: ``values`` (P, C) float32 (NaN = missing) for ``case_ids``
    (cohort order) × ``columns``."""

    case_ids: tuple[str, ...]
    columns: tuple[str, ...]
    values: np.ndarray

    def __post_init__(self):
        self._row = {c: i for i, c in enumerate(self.case_ids)}
        self._col = {c: j for j, c in enumerate(self.columns)}
        self.present = np.isfinite(self.values).any(axis=1) if self.values.size else np.zeros(len(self.case_ids), bool)

    def rows(self, case_ids) -> np.ndarray:
        return np.array([self._row[c] for c in case_ids], dtype=np.int64)


def _numeric(frame: pd.DataFrame, path: Path) -> np.ndarray:
    """Genomic block → (rows, C) float32; InputError on a non-numeric cell."""
    dtypes = frame.dtypes
    text_cols = [c for c, t in dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
    fixed = {}
    for c in text_cols:
        v = pd.to_numeric(frame[c], errors="coerce")
        bad = np.flatnonzero((v.isna() & frame[c].notna()).to_numpy())
        if bad.size:
            raise InputError(
                f"{path}: genomic column '{c}' has non-numeric values ({row_list(bad)}, e.g. "
                f"{frame[c].iat[bad[0]]!r}); genomic values must be numbers (leave a cell empty for missing)."
            )
        fixed[c] = v
    if fixed:
        frame = frame.assign(**fixed)
    return frame.to_numpy(dtype=np.float32)


def genomics_from_labels(df: pd.DataFrame, path: Path, first_row: dict[str, int], case_ids, columns, issues) -> GenomicMatrix:
    """Genomics from the label table (one row per slide; each patient's first row)."""
    block = df[list(columns)]
    values = _numeric(block, path)
    dup = df["case_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        first = np.array([first_row[c] for c in df["case_id"]])
        a, b = values[dup], values[first[dup]]
        differ = ~((a == b) | (np.isnan(a) & np.isnan(b)))
        rows = np.flatnonzero(dup)[differ.any(axis=1)]
        if rows.size:
            cases = list(dict.fromkeys(df["case_id"].iloc[rows]))
            issues.append(
                f"{path.name}: {len(cases)} case(s) (e.g. {cases[0]}) have different genomic values on "
                f"different slide rows ({row_list(rows)}); each patient's first row was used."
            )
    take = np.array([first_row[c] for c in case_ids], dtype=np.int64)
    return GenomicMatrix(tuple(case_ids), tuple(columns), values[take] if len(take) else values[:0])


def genomics_from_file(path: Path, case_ids, columns_of, issues) -> tuple[GenomicMatrix, list[str]]:
    """Genomics from a separate CSV keyed by ``case_id``.

    ``columns_of(available) -> columns`` picks the columns to keep (the gene
    groups' union) from the file's genomic columns. Returns the matrix and the
    file's genomic columns.
    """
    from .groups import genomic_columns

    table = read_table(path)
    if "case_id" not in table.columns:
        raise InputError(f"{path}: missing required column 'case_id'; the genomics CSV has one row per patient keyed by case_id.")
    bad = np.flatnonzero(table["case_id"].isna().to_numpy())
    if bad.size:
        raise InputError(f"{path}: column 'case_id' is empty in {row_list(bad)}; every row needs a case_id.")
    dup = np.flatnonzero(table["case_id"].duplicated(keep=False).to_numpy())
    if dup.size:
        case = table["case_id"].iat[dup[0]]
        rows = np.flatnonzero((table["case_id"] == case).to_numpy())
        raise InputError(f"{path}: case_id {case} appears on several rows ({row_list(rows)}); keep one row per patient.")
    available = genomic_columns(table.columns)
    if not available:
        raise InputError(f"{path}: no genomic columns; name them <GENE>_rnaseq, <GENE>_cnv or <GENE>_mut.")
    columns = columns_of(available)
    values = _numeric(table[list(columns)], path)
    index = {c: i for i, c in enumerate(table["case_id"])}
    known = set(case_ids)
    extra = [c for c in table["case_id"] if c not in known]
    if extra:
        issues.append(f"{path.name}: {len(extra)} case(s) not in the label CSV were ignored (e.g. {extra[0]}).")
    out = np.full((len(case_ids), len(columns)), np.nan, dtype=np.float32)
    for i, c in enumerate(case_ids):
        j = index.get(c)
        if j is not None:
            out[i] = values[j]
    return GenomicMatrix(tuple(case_ids), tuple(columns), out), available
