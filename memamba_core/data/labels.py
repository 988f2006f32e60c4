"""The label CSV (MCAT layout): one row per slide, merged into one :class:`Patient` per case.

Required columns: ``case_id``, ``slide_id``, ``survival_months``,
``censorship`` (1 = censored, 0 = event). Optional clinical columns
``oncotree_code``, ``site``, ``age``, ``is_female`` are kept per patient. Any
other column is ignored here (genomic columns are read by
:mod:`memamba_core.data.genomics`).

Validation (each an :class:`~memamba_core.errors.InputError` naming the file,
the column and the rows — data rows counted from 1 below the header):

* a required column missing;
* ``censorship`` not 0/1; ``survival_months`` missing, non-numeric, zero or negative;
* an empty ``case_id``;
* one ``case_id`` whose rows disagree on survival or censorship;
* one ``slide_id`` listed under two different cases.

An empty ``slide_id`` is allowed: that row contributes no slide (a patient
without pathology). Clinical values that disagree across a case's rows keep
the first non-empty value and are reported as a non-fatal issue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .tables import row_list

__all__ = ["Patient", "LabelTable", "parse_labels", "REQUIRED_COLUMNS", "CLINICAL_COLUMNS"]

REQUIRED_COLUMNS = ("case_id", "slide_id", "survival_months", "censorship")
CLINICAL_COLUMNS = ("oncotree_code", "site", "age", "is_female")


@dataclass(frozen=True)
class Patient:
    """One patient (``case_id``) with all their slides.

    ``survival_months`` > 0; ``censorship`` 1 = censored (alive at last
    follow-up), 0 = event observed. ``clinical`` holds the optional columns
    ``oncotree_code``, ``site``, ``age``, ``is_female`` where present.
    """

    case_id: str
    slide_ids: tuple[str, ...]
    survival_months: float
    censorship: int
    clinical: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def event(self) -> bool:
        """True when the event (death) was observed, i.e. ``censorship == 0``."""
        return self.censorship == 0


@dataclass
class LabelTable:
    """Parsed label CSV: patients in first-appearance order, and the first
    data row of each patient (where per-patient columns such as genomics are read)."""

    path: Path
    patients: list[Patient]
    first_row: dict[str, int]
    issues: list[str]


def _fail(path: Path, msg: str) -> InputError:
    return InputError(f"{path}: {msg}")


def _python(v: object) -> object:
    """numpy scalar → plain Python (JSON-safe)."""
    return v.item() if isinstance(v, np.generic) else v


def parse_labels(df: pd.DataFrame, path: Path) -> LabelTable:
    """Validate the label table and merge its slide rows into patients. See module doc."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise _fail(
            path,
            f"missing required column(s) {', '.join(repr(c) for c in missing)}; the label CSV "
            f"(MCAT layout) needs columns case_id, slide_id, survival_months, censorship "
            f"(1 = censored, 0 = event). Found columns: {', '.join(map(str, df.columns[:12]))}"
            f"{' …' if len(df.columns) > 12 else ''}.",
        )
    if len(df) == 0:
        raise _fail(path, "the label CSV has a header but no rows; add one row per slide.")

    bad = np.flatnonzero(df["case_id"].isna().to_numpy())
    if bad.size:
        raise _fail(path, f"column 'case_id' is empty in {row_list(bad)}; every row needs the patient's case_id.")

    times = pd.to_numeric(df["survival_months"], errors="coerce")
    non_numeric = df["survival_months"].notna() & times.isna()
    for mask, what in (
        (non_numeric, "non-numeric values"),
        (df["survival_months"].isna(), "missing (NaN) values"),
        (~np.isfinite(times.fillna(1.0)), "infinite values"),
        (times <= 0, "zero or negative values"),
    ):
        bad = np.flatnonzero(mask.to_numpy())
        if bad.size:
            raise _fail(
                path,
                f"column 'survival_months' has {bad.size} {what} ({row_list(bad)}); "
                f"survival times must be positive numbers of months — fix or drop those rows.",
            )

    cens = pd.to_numeric(df["censorship"], errors="coerce")
    bad = np.flatnonzero(~cens.isin([0, 1]).to_numpy())
    if bad.size:
        shown = sorted({str(v) for v in df["censorship"].iloc[bad[:10]]})
        raise _fail(
            path,
            f"column 'censorship' must be 0 (event) or 1 (censored), but {row_list(bad)} "
            f"hold {', '.join(shown)}; fix those values.",
        )

    work = pd.DataFrame({"case_id": df["case_id"], "slide_id": df["slide_id"], "t": times, "c": cens.astype(int)})
    _check_consistent(work, path)
    _check_slides_unique(work, path)

    clinical_cols = [c for c in CLINICAL_COLUMNS if c in df.columns]
    issues: list[str] = []
    groups = work.groupby("case_id", sort=False)
    for c in clinical_cols:
        n = df[c].groupby(work["case_id"], sort=False).nunique(dropna=True)
        for case in n[n > 1].index:
            rows = np.flatnonzero((work["case_id"] == case).to_numpy())
            issues.append(
                f"{path.name}: case {case} has different '{c}' values across its rows "
                f"({row_list(rows)}); kept the first non-empty one."
            )
    indices = groups.indices
    firsts = df[clinical_cols].groupby(work["case_id"], sort=False).first().to_dict("index") if clinical_cols else {}
    patients: list[Patient] = []
    first_row: dict[str, int] = {}
    for case_id in pd.unique(work["case_id"]):
        rows = indices[case_id]
        r0 = int(rows[0])
        slides = tuple(dict.fromkeys(s for s in work["slide_id"].iloc[rows] if isinstance(s, str)))
        clinical = {c: _python(v) for c, v in firsts.get(case_id, {}).items() if not pd.isna(v)}
        patients.append(
            Patient(
                case_id=str(case_id),
                slide_ids=slides,
                survival_months=float(work["t"].iat[r0]),
                censorship=int(work["c"].iat[r0]),
                clinical=clinical,
            )
        )
        first_row[str(case_id)] = r0
    return LabelTable(path=path, patients=patients, first_row=first_row, issues=issues)


def _check_consistent(work: pd.DataFrame, path: Path) -> None:
    dup = work[work["case_id"].duplicated(keep=False)]
    if dup.empty:
        return
    g = dup.groupby("case_id", sort=False)
    for col, label in (("t", "survival_months"), ("c", "censorship")):
        n = g[col].nunique()
        conflicted = n[n > 1].index
        if len(conflicted):
            case = conflicted[0]
            rows = np.flatnonzero((work["case_id"] == case).to_numpy())
            values = ", ".join(str(_python(v)) for v in work[col].iloc[rows])
            more = f" ({len(conflicted) - 1} more case(s) conflict too)" if len(conflicted) > 1 else ""
            raise _fail(
                path,
                f"case_id {case} has conflicting '{label}' across its slide rows ({row_list(rows)}: "
                f"{values}){more}; all rows of one patient must carry the same survival label.",
            )


def _check_slides_unique(work: pd.DataFrame, path: Path) -> None:
    s = work.dropna(subset=["slide_id"]).drop_duplicates(["case_id", "slide_id"])
    dup = s[s["slide_id"].duplicated(keep=False)]
    if not dup.empty:
        slide = dup["slide_id"].iloc[0]
        rows = np.flatnonzero((work["slide_id"] == slide).to_numpy())
        cases = ", ".join(dict.fromkeys(work["case_id"].iloc[rows]))
        raise _fail(
            path,
            f"slide_id {slide} is listed under different case_ids ({cases}; {row_list(rows)}); "
            f"a slide belongs to exactly one patient — fix the case_id or slide_id.",
        )
