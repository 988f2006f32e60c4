"""A per-patient clinical table (stage, grade, subtype, …) joined to the patients by ``case_id``.

The SurvPath / PIBD layout ships one as
``datasets_csv/clinical_data/<study>_clinical.csv`` (an unnamed index,
``case_id``, ``stage``, ``grade``, ``subtype``); a one-cohort folder may have
``clinical.csv``; a cohort file names one with ``clinical = "…"``.

Rules:

* the table needs a ``case_id`` column; a table none of whose ids is a patient
  is keyed differently: an InputError with the overlap count
  (:func:`memamba_core.data.keyed.match_patients`);
* every other named column is a clinical variable, kept in
  ``Patient.clinical`` and ``cohort.clinical_frame()`` (empty cells are
  missing: left out of ``Patient.clinical``, NaN in the frame); columns the
  cohort already defines (``survival_months*``, ``censorship*``, ``event``,
  ``n_slides``, …) are ignored with an issue line;
* several rows for one patient (published tables have a few) are merged:
  the first non-empty value of each column, disagreements counted in an issue;
* the label CSV's own clinical columns (``age``, ``site``, …) come first; the
  table fills the values they lack, and disagreements are counted;
* rows matching no patient, and patients with no row, are counted in issue lines;
* an infinite number is an InputError (file, column, count).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .endpoints import ENDPOINTS
from .keyed import match_patients, read_keyed
from .labels import CLINICAL_COLUMNS, Patient
from .tables import preview, row_list, short

__all__ = ["join_clinical", "RESERVED_COLUMNS"]

RESERVED_COLUMNS = frozenset(
    {"case_id", "slide_id", "event", "n_slides", "has_pathology", "has_genomics"}
    | {c for e in ENDPOINTS.values() for c in (e.time_column, e.censorship_column)}
)


def _python(v: object) -> object:
    if isinstance(v, str):
        return v.strip()
    return v.item() if isinstance(v, np.generic) else v


def _check_finite(frame: pd.DataFrame, path: Path) -> None:
    for c in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[c].dtype):
            bad = np.flatnonzero(np.isinf(frame[c].to_numpy(dtype=np.float64)))
            if bad.size:
                raise InputError(
                    f"{path}: clinical column '{short(c)}' has {bad.size} infinite value(s) ({row_list(bad)}); "
                    f"write a finite number, or leave the cell empty for missing."
                )


def join_clinical(path: Path, patients: list[Patient], issues: list[str],
                  left_out: frozenset[str] = frozenset()) -> tuple[list[Patient], tuple[str, ...]]:
    """Patients with the table's variables merged into ``clinical``, and the cohort's clinical columns.

    See the module doc for the rules; rows of the ``left_out`` cases are ignored silently.
    Returns new :class:`Patient` objects (same order).
    """
    table = read_keyed(path, "clinical table")
    reserved = [c for c in table.frame.columns if c in RESERVED_COLUMNS]
    if reserved:
        issues.append(f"{path.name}: column(s) {preview(reserved)} are defined by the label CSV; ignored in the clinical table.")
    frame = table.frame.loc[:, [c for c in table.frame.columns if c not in RESERVED_COLUMNS]]
    if frame.shape[1] == 0:
        raise InputError(
            f"{path}: the clinical table has no column besides case_id; add the per-patient variables "
            f"(e.g. stage, grade, subtype) as columns."
        )
    _check_finite(frame, path)
    row_of = match_patients(table, [p.case_id for p in patients], "clinical table", issues, left_out)
    merged = frame.groupby(table.ids.to_numpy(), sort=False).first()
    dup = table.duplicated_rows()
    if dup.size:
        differ = frame.groupby(table.ids.to_numpy(), sort=False).nunique(dropna=True).gt(1).any(axis=1)
        n_cases = int(table.ids.iloc[dup].nunique())
        issues.append(
            f"{path.name}: {n_cases} case(s) have several rows ({int(differ.sum())} of them with different values, "
            f"e.g. {short(table.ids.iat[dup[0]])}); the first non-empty value of each column was kept."
        )
    columns = [str(c) for c in frame.columns]
    records = merged.to_dict("index")
    out, conflicts, missing = [], 0, 0
    for p in patients:
        rec = records.get(p.case_id) if p.case_id in row_of else None
        if rec is None:
            missing += 1
            out.append(p)
            continue
        clinical = dict(p.clinical)
        for c, v in rec.items():
            if pd.isna(v):
                continue
            v = _python(v)
            if c in clinical and clinical[c] != v:
                conflicts += 1
                continue
            clinical[c] = v
        out.append(dataclasses.replace(p, clinical=clinical))
    if missing:
        issues.append(f"{path.name}: {missing} patient(s) have no row in the clinical table; their clinical values are missing.")
    if conflicts:
        issues.append(
            f"{path.name}: {conflicts} value(s) disagree with the label CSV's clinical columns; the label CSV's were kept."
        )
    return out, tuple(dict.fromkeys([*(c for c in CLINICAL_COLUMNS if any(c in p.clinical for p in out)), *columns]))
