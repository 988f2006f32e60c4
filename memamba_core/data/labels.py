"""The label CSV (MCAT / SurvPath layout): one row per slide, merged into one :class:`Patient` per case.

Required columns: ``case_id``, ``slide_id`` and the chosen endpoint's time and
censorship columns (``survival_months`` / ``censorship`` for overall survival,
1 = censored, 0 = event; see :mod:`memamba_core.data.endpoints`). Optional
clinical columns ``oncotree_code``, ``site``, ``age``, ``is_female`` are kept
per patient. Any other column is ignored here (genomic columns are read by
:mod:`memamba_core.data.genomics`, a clinical table by :mod:`.clinical`).

Validation (each an :class:`~memamba_core.errors.InputError` naming the file,
the column and the rows — data rows counted from 1 below the header):

* a required column missing (or the chosen endpoint missing while others exist);
* censorship other than 0/1; a survival time that is non-numeric, infinite or negative;
* an empty ``case_id``;
* one ``case_id`` whose rows disagree on survival or censorship;
* one ``slide_id`` listed under two different cases.

A survival time of 0 is allowed (an event or censoring in the first month,
as TCGA's progression-free intervals have). An *empty* time or censorship
cell is a missing value: a patient with no complete row for the endpoint is
left out of the cohort and counted in an issue line (not an error). An empty
``slide_id`` is allowed: that row contributes no slide (a patient without
pathology). Clinical values that disagree across a case's rows keep the first
non-empty value and are reported as a non-fatal issue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .endpoints import DEFAULT_ENDPOINT, ENDPOINTS, Endpoint, lacking_endpoint_error
from .tables import preview, row_list, short

__all__ = ["Patient", "LabelTable", "parse_labels", "REQUIRED_COLUMNS", "CLINICAL_COLUMNS"]

REQUIRED_COLUMNS = ("case_id", "slide_id", "survival_months", "censorship")
CLINICAL_COLUMNS = ("oncotree_code", "site", "age", "is_female")


@dataclass(frozen=True)
class Patient:
    """One patient (``case_id``) with all their slides.

    ``survival_months`` ≥ 0 and ``censorship`` (1 = censored, alive at last
    follow-up; 0 = event observed) are the cohort's chosen endpoint's
    (``Cohort.endpoint``). ``clinical`` holds the optional columns
    ``oncotree_code``, ``site``, ``age``, ``is_female`` where present, and the
    columns of the cohort's clinical table (stage, grade, subtype, …) if it has one.
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
    """Parsed label CSV: patients in first-appearance order, the first data row
    of every case (where per-patient columns such as genomics are read; left-out
    cases included) and the cases left out for lack of an endpoint value."""

    path: Path
    patients: list[Patient]
    first_row: dict[str, int]
    issues: list[str]
    left_out: tuple[str, ...] = ()


def _fail(path: Path, msg: str) -> InputError:
    return InputError(f"{path}: {msg}")


def _python(v: object) -> object:
    """numpy scalar → plain Python (JSON-safe)."""
    return v.item() if isinstance(v, np.generic) else v


def _cell(v: object) -> str:
    """A cell value for a message: text quoted, numbers plain, cut short."""
    return short(repr(v)) if isinstance(v, str) else short(_python(v))


def parse_labels(df: pd.DataFrame, path: Path, endpoint: Endpoint = ENDPOINTS[DEFAULT_ENDPOINT]) -> LabelTable:
    """Validate the label table for ``endpoint`` and merge its slide rows into patients. See module doc."""
    tcol, ccol = endpoint.time_column, endpoint.censorship_column
    missing = [c for c in ("case_id", "slide_id", tcol, ccol) if c not in df.columns]
    if missing:
        if tcol in missing or ccol in missing:
            err = lacking_endpoint_error(endpoint, df.columns, path)
            if err is not None:
                raise err
        raise _fail(
            path,
            f"missing required column(s) {', '.join(repr(c) for c in missing)}; the label CSV "
            f"(MCAT layout) needs columns case_id, slide_id, survival_months, censorship "
            f"(1 = censored, 0 = event). Found columns: {preview(df.columns)}.",
        )
    if len(df) == 0:
        raise _fail(path, "the label CSV has a header but no rows; add one row per slide.")

    bad = np.flatnonzero(df["case_id"].isna().to_numpy())
    if bad.size:
        raise _fail(path, f"column 'case_id' is empty in {row_list(bad)}; every row needs the patient's case_id.")

    times = pd.to_numeric(df[tcol], errors="coerce")
    for mask, what in (
        (df[tcol].notna() & times.isna(), "non-numeric values"),
        (~np.isfinite(times.fillna(1.0)), "infinite values"),
        (times < 0, "negative values"),
    ):
        bad = np.flatnonzero(mask.to_numpy())
        if bad.size:
            raise _fail(
                path,
                f"column '{tcol}' has {bad.size} {what} ({row_list(bad)}; e.g. {_cell(df[tcol].iat[bad[0]])}); "
                f"survival times must be numbers of months ≥ 0 (leave a cell empty if unknown) — fix or drop those rows.",
            )

    cens = pd.to_numeric(df[ccol], errors="coerce")
    bad = np.flatnonzero((df[ccol].notna() & ~cens.isin([0, 1])).to_numpy())
    if bad.size:
        shown = sorted({short(v) for v in df[ccol].iloc[bad[:10]]})
        raise _fail(
            path,
            f"column '{ccol}' must be 0 (event) or 1 (censored), but {row_list(bad)} "
            f"hold {', '.join(shown)}; fix those values.",
        )

    known = (times.notna() & cens.notna()).to_numpy()
    work = pd.DataFrame({"case_id": df["case_id"], "slide_id": df["slide_id"], "t": times, "c": cens, "known": known})
    _check_consistent(work[known], work, path, tcol, ccol)
    _check_slides_unique(work, path)

    clinical_cols = [c for c in CLINICAL_COLUMNS if c in df.columns]
    issues: list[str] = []
    for c in clinical_cols:
        n = df[c].groupby(work["case_id"], sort=False).nunique(dropna=True)
        for case in n[n > 1].index:
            rows = np.flatnonzero((work["case_id"] == case).to_numpy())
            issues.append(
                f"{path.name}: case {short(case)} has different '{c}' values across its rows "
                f"({row_list(rows)}); kept the first non-empty one."
            )
    indices = work.groupby("case_id", sort=False).indices
    firsts = df[clinical_cols].groupby(work["case_id"], sort=False).first().to_dict("index") if clinical_cols else {}
    patients: list[Patient] = []
    first_row: dict[str, int] = {}
    left_out: list[str] = []
    slide_ids = work["slide_id"].to_numpy(dtype=object)
    t_values, c_values = times.to_numpy(dtype=np.float64), cens.to_numpy(dtype=np.float64)
    for case_id in pd.unique(work["case_id"]):
        rows = indices[case_id]
        first_row[str(case_id)] = int(rows[0])
        rows_known = rows[known[rows]]
        if not rows_known.size:
            left_out.append(str(case_id))
            continue
        r0 = int(rows_known[0])
        slides = tuple(dict.fromkeys(s for s in slide_ids[rows] if isinstance(s, str)))
        clinical = {c: _python(v) for c, v in firsts.get(case_id, {}).items() if not pd.isna(v)}
        patients.append(
            Patient(
                case_id=str(case_id),
                slide_ids=slides,
                survival_months=float(t_values[r0]),
                censorship=int(c_values[r0]),
                clinical=clinical,
            )
        )
    if left_out:
        issues.append(
            f"{path.name}: {len(left_out)} patient(s) have no '{endpoint.name}' value ({tcol} or {ccol} empty; "
            f"e.g. {', '.join(short(c) for c in left_out[:3])}): left out of the cohort for this endpoint."
        )
    if not patients:
        raise _fail(
            path,
            f"no patient has a complete '{endpoint.name}' label ({tcol} and {ccol} are empty on every row); "
            f"fill them in or choose another endpoint.",
        )
    return LabelTable(path=path, patients=patients, first_row=first_row, issues=issues, left_out=tuple(left_out))


def _check_consistent(known: pd.DataFrame, work: pd.DataFrame, path: Path, tcol: str, ccol: str) -> None:
    """Rows of one case with a known label (``known``) must agree; rows are numbered in ``work``."""
    dup = known[known["case_id"].duplicated(keep=False)]
    if dup.empty:
        return
    g = dup.groupby("case_id", sort=False)
    for col, label in (("t", tcol), ("c", ccol)):
        n = g[col].nunique()
        conflicted = n[n > 1].index
        if len(conflicted):
            case = conflicted[0]
            rows = np.flatnonzero((work["case_id"] == case).to_numpy())
            values = ", ".join(short(_python(v)) for v in work[col].iloc[rows])
            more = f" ({len(conflicted) - 1} more case(s) conflict too)" if len(conflicted) > 1 else ""
            raise _fail(
                path,
                f"case_id {short(case)} has conflicting '{label}' across its slide rows ({row_list(rows)}: "
                f"{values}){more}; all rows of one patient must carry the same survival label.",
            )


def _check_slides_unique(work: pd.DataFrame, path: Path) -> None:
    s = work.dropna(subset=["slide_id"]).drop_duplicates(["case_id", "slide_id"])
    dup = s[s["slide_id"].duplicated(keep=False)]
    if not dup.empty:
        slide = dup["slide_id"].iloc[0]
        rows = np.flatnonzero((work["slide_id"] == slide).to_numpy())
        cases = preview(dict.fromkeys(work["case_id"].iloc[rows]), limit=5)
        raise _fail(
            path,
            f"slide_id {short(slide)} is listed under different case_ids ({cases}; {row_list(rows)}); "
            f"a slide belongs to exactly one patient — fix the case_id or slide_id.",
        )
