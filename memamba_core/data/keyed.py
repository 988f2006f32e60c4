"""Per-patient tables keyed by case id: a separate genomics / RNA table, a clinical table.

The key is the ``case_id`` column; a table without one may carry the case ids
in an *unnamed first column* instead (``allow_unnamed_key``), as SurvPath's
``rna_clean.csv`` does. Joining such a table to the cohort's patients is done
in one place (:func:`match_patients`), so every table keyed the wrong way gets
the same clear message with the overlap count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .tables import is_unnamed, preview, read_table, row_list, short

__all__ = ["KeyedTable", "read_keyed", "match_patients"]


@dataclass
class KeyedTable:
    """A table read from ``path``: ``ids`` (R,) case ids as text (row order), ``frame`` the other
    named columns (R rows, RangeIndex), ``key`` the header of the id column."""

    path: Path
    key: str
    ids: pd.Series
    frame: pd.DataFrame

    def duplicated_rows(self) -> np.ndarray:
        """Row numbers (0-based) of every row whose case id appears more than once."""
        return np.flatnonzero(self.ids.duplicated(keep=False).to_numpy())


def read_keyed(path: Path, what: str, *, allow_unnamed_key: bool = False) -> KeyedTable:
    """Read a per-patient table; InputError when it has no case-id key or an empty id.

    ``what`` names the table in messages ("genomics table", "clinical table").
    """
    table = read_table(path, drop_unnamed=False)
    if "case_id" in table.columns:
        key = "case_id"
    elif allow_unnamed_key and table.shape[1] > 1 and is_unnamed(table.columns[0]):
        key = str(table.columns[0])
    else:
        alt = " (or the case ids in an unnamed first column, as SurvPath's rna_clean.csv has)" if allow_unnamed_key else ""
        raise InputError(
            f"{path}: missing required column 'case_id'; the {what} has one row per patient keyed by "
            f"case_id{alt}. Found columns: {preview([c for c in table.columns if not is_unnamed(c)])}."
        )
    ids = table[key].astype("string").str.strip()
    bad = np.flatnonzero((ids.isna() | (ids == "")).to_numpy())
    if bad.size:
        raise InputError(f"{path}: the case id ('{short(key)}') is empty in {row_list(bad)}; every row needs a case_id.")
    frame = table.loc[:, [c for c in table.columns if c != key and not is_unnamed(c)]]
    return KeyedTable(Path(path), key, ids.astype(str).reset_index(drop=True), frame.reset_index(drop=True))


def match_patients(table: KeyedTable, case_ids, what: str, issues: list[str],
                   left_out: frozenset[str] = frozenset()) -> dict[str, int]:
    """``{case_id: row}`` for the cohort's patients that have a row (the first one).

    Raises InputError when *no* row matches a patient (the table is keyed
    differently), with the overlap count and an example from each side.
    Rows matching no patient are ignored with an issue line; rows of
    ``left_out`` cases (label-CSV patients left out for lack of an endpoint
    value) are ignored silently.
    """
    case_ids = list(case_ids)
    known = set(case_ids)
    first: dict[str, int] = {}
    for i, c in enumerate(table.ids):
        first.setdefault(c, i)
    for c in left_out:
        first.pop(c, None)
    matched = [c for c in first if c in known]
    if not matched:
        raise InputError(
            f"{table.path}: 0 of its {len(first)} case id(s) match a patient of the label CSV "
            f"(the {what} has e.g. {preview(list(first)[:3], width=30)}; the labels have e.g. "
            f"{preview(case_ids[:3], width=30)}); key the {what} by the same case_id as the label CSV."
        )
    extra = [c for c in first if c not in known]
    if extra:
        issues.append(
            f"{table.path.name}: {len(extra)} of {len(first)} case id(s) match no patient in the label CSV "
            f"and were ignored (e.g. {short(extra[0])})."
        )
    return {c: first[c] for c in case_ids if c in first}
