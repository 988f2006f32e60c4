"""Per-patient genomic values and their standardisation.

Genomic columns are ``<GENE>_rnaseq|_cnv|_mut``, either in the label CSV (one
row per slide; a patient's first row is used) or in a separate genomics table
with one row per patient, keyed by ``case_id`` or by an unnamed first column
(SurvPath's ``rna_clean.csv``). A separate table without any suffixed column
holds plain gene symbols (SurvPath / PIBD): every named column is RNA
expression and is read as ``<GENE>_rnaseq``. :class:`GenomicMatrix` holds the
values as a (P, C) float32 array in the cohort's patient order; a missing
value (an empty cell) is NaN. An infinite value, or one too large for
float32, is an error naming the file, the column and the count — never taken
as missing.

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
from .keyed import match_patients, read_keyed
from .tables import preview, row_list, short

__all__ = ["GenomicScaler", "GenomicMatrix", "genomics_from_labels", "genomics_from_file", "RNA_SUFFIX"]

RNA_SUFFIX = "_rnaseq"
_F32_MAX = float(np.finfo(np.float32).max)


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
    def from_dict(cls, d: dict, *, source: str | Path | None = None) -> "GenomicScaler":
        """Inverse of :meth:`to_dict`. ``source`` (the file it came from, e.g. a fold's meta record)
        is named in every error; a damaged record (missing keys, lengths that differ, a mean or std
        that is not a finite number, a std ≤ 0) is an InputError."""
        where = f"{source}: genomic scaler" if source is not None else "genomic scaler (no file named)"
        fix = "the checkpoint is damaged; retrain the fold or restore that file"
        try:
            cols, mean, std = tuple(d["columns"]), d["mean"], d["std"]
            if not all(isinstance(c, str) for c in cols):
                raise TypeError("columns must be strings")
            mean = np.asarray(mean, dtype=np.float64)
            std = np.asarray(std, dtype=np.float64)
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"{where}: expected keys columns, mean, std of strings and numbers ({short(err, 120)}); {fix}.") from err
        if not (mean.ndim == std.ndim == 1 and len(cols) == len(mean) == len(std)):
            raise InputError(
                f"{where}: columns ({len(cols)}), mean ({mean.size}) and std ({std.size}) differ in length; {fix}."
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            n = int((~np.isfinite(mean)).sum() + (~(np.isfinite(std) & (std > 0))).sum())
            raise InputError(f"{where}: {n} mean/std value(s) are not finite (or a std is ≤ 0); {fix}.")
        return cls(cols, mean, std)

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
    """Genomic block → (rows, C) float32 with NaN for empty cells.

    InputError on a non-numeric cell, and on an infinite value or one beyond
    float32's range (file, columns, count and rows named).
    """
    text_cols = [c for c, t in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
    fixed = {}
    for c in text_cols:
        v = pd.to_numeric(frame[c], errors="coerce")
        bad = np.flatnonzero((v.isna() & frame[c].notna()).to_numpy())
        if bad.size:
            raise InputError(
                f"{path}: genomic column '{short(c)}' has non-numeric values ({row_list(bad)}, e.g. "
                f"{short(repr(frame[c].iat[bad[0]]))}); genomic values must be numbers (leave a cell empty for missing)."
            )
        fixed[c] = v
    if fixed:
        frame = frame.assign(**fixed)
    x = frame.to_numpy(dtype=np.float64)
    bad = np.isinf(x) | (np.abs(np.nan_to_num(x)) > _F32_MAX)
    if bad.any():
        per_col = bad.sum(axis=0)
        cols = [frame.columns[j] for j in np.flatnonzero(per_col)]
        j0 = int(np.flatnonzero(per_col)[0])
        raise InputError(
            f"{path}: {int(bad.sum())} infinite (or out-of-range) genomic value(s) in {len(cols)} column(s) "
            f"({preview(cols, limit=5)}; '{short(cols[0])}' has {int(per_col[j0])}, {row_list(np.flatnonzero(bad[:, j0]))}); "
            f"genomic values must be finite numbers — replace them, or empty those cells to mark them missing."
        )
    return x.astype(np.float32)


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
                f"{path.name}: {len(cases)} case(s) (e.g. {short(cases[0])}) have different genomic values on "
                f"different slide rows ({row_list(rows)}); each patient's first row was used."
            )
    take = np.array([first_row[c] for c in case_ids], dtype=np.int64)
    return GenomicMatrix(tuple(case_ids), tuple(columns), values[take] if len(take) else values[:0])


def genomics_from_file(path: Path, case_ids, columns_of, issues, left_out: frozenset[str] = frozenset()) -> tuple[GenomicMatrix, list[str]]:
    """Genomics from a separate table with one row per patient (see the module doc for its layout).

    ``columns_of(available) -> columns`` picks the columns to keep (the gene
    groups' union) from the file's genomic columns. Returns the matrix and the
    file's genomic columns (suffixed names; plain symbols get ``_rnaseq``).
    A table whose case ids match no patient is an InputError with the overlap
    (rows of the ``left_out`` cases are ignored silently).
    """
    from .groups import genomic_columns

    table = read_keyed(path, "genomics table", allow_unnamed_key=True)
    dup = table.duplicated_rows()
    if dup.size:
        case = table.ids.iat[dup[0]]
        rows = np.flatnonzero((table.ids == case).to_numpy())
        raise InputError(f"{path}: case_id {short(case)} appears on several rows ({row_list(rows)}); keep one row per patient.")
    frame = table.frame
    available = genomic_columns(frame.columns)
    if not available:
        frame = frame.rename(columns={c: f"{c}{RNA_SUFFIX}" for c in frame.columns})
        available = list(frame.columns)
    if not available:
        raise InputError(
            f"{path}: no genomic columns; name them <GENE>_rnaseq, <GENE>_cnv or <GENE>_mut, "
            f"or give plain gene symbols (RNA) as in SurvPath's rna_clean.csv."
        )
    row_of = match_patients(table, case_ids, "genomics table", issues, left_out)
    columns = columns_of(available)
    values = _numeric(frame[list(columns)], path)
    out = np.full((len(case_ids), len(columns)), np.nan, dtype=np.float32)
    take = [(i, row_of[c]) for i, c in enumerate(case_ids) if c in row_of]
    if take:
        dst, src = map(np.array, zip(*take))
        out[dst] = values[src]
    return GenomicMatrix(tuple(case_ids), tuple(columns), out), available
