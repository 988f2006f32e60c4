"""Does the model add prognostic information beyond the clinic? A multivariable Cox model (lifelines).

``added_value(frame)`` fits ``h(t) = h₀(t) exp(β_model · model + Σ β_j · clinical_j)``
on one row per patient: the model's out-of-fold score (standardised, so its
hazard ratio is per SD) beside the clinical variables the cohort has, and the
same model without the model's score, so the likelihood-ratio test and the two
C-indices say what the score adds.

Clinical variables (:data:`CLINICAL_CANDIDATES`, matched case-insensitively;
any column whose name contains ``stage`` or ``grade`` too): numeric with more
than two values → continuous, per unit (age per 10 years); two values →
0/1 against the first; text → one indicator per level against the most
frequent level, levels with fewer than ``min_level`` patients pooled into
"other". ``site`` (the tissue-source site, a hospital code) is not a patient
characteristic and is not used. Missing values: a variable missing in more
than half of the patients is dropped; otherwise patients with a missing value
are left out (complete cases); both are reported in ``notes``.

Shapes: P patients in the frame, n used (complete cases), V design columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from scipy.stats import chi2

from ..errors import InputError

__all__ = ["CLINICAL_CANDIDATES", "MODEL_TERM", "CoxTable", "clinical_columns", "design_matrix", "added_value"]

CLINICAL_CANDIDATES = ("age", "is_female", "sex", "gender", "oncotree_code")
MODEL_TERM = "model risk (per SD)"
_LABELS = {"age": "age (per 10 years)", "is_female": "female (vs male)"}


@dataclass(frozen=True)
class CoxTable:
    """The fitted model as a table and its comparison with the clinical-only model.

    ``table``: one row per design column (index: readable term), ``hr``,
    ``lower``, ``upper`` (95 % CI), ``p``. ``design``: the (n, V) frame that was
    fitted with ``duration``/``event`` columns (for reproduction). ``lr_stat``,
    ``lr_p``: likelihood-ratio test of adding the model's score to the clinical
    variables; ``c_clinical``, ``c_full``: Harrell's C of the two models (in-sample).
    """

    table: pd.DataFrame
    design: pd.DataFrame
    n: int
    events: int
    lr_stat: float
    lr_p: float
    c_clinical: float
    c_full: float
    variables: tuple[str, ...]
    notes: list[str] = field(default_factory=list)


def clinical_columns(frame: pd.DataFrame) -> list[str]:
    """The clinical variables of ``frame`` this module uses (see module docstring), in frame order."""
    out = []
    for c in frame.columns:
        low = str(c).lower()
        if low in CLINICAL_CANDIDATES or "stage" in low or "grade" in low:
            out.append(c)
    return out


def _encode(col: pd.Series, name: str, min_level: int, notes: list[str]) -> pd.DataFrame | None:
    """Design column(s) of one clinical variable (NaN kept where missing); None when it has one value."""
    s = col.copy()
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().sum() == s.notna().sum():  # numeric
        values = np.unique(num.dropna())
        if values.size < 2:
            notes.append(f"'{name}' has a single value and was left out.")
            return None
        if values.size == 2:
            label = _LABELS.get(name.lower(), f"{name} = {values[1]:g} (vs {values[0]:g})")
            return pd.DataFrame({label: (num == values[1]).astype(float).where(num.notna())})
        scale = 10.0 if name.lower() == "age" else 1.0
        return pd.DataFrame({_LABELS.get(name.lower(), f"{name} (per unit)"): num / scale})
    s = s.astype("string").str.strip().replace("", pd.NA)
    counts = s.value_counts()
    rare = counts[counts < min_level].index
    if len(rare) and len(counts) - len(rare) >= 1:
        s = s.where(~s.isin(rare), "other")
        notes.append(f"'{name}': {len(rare)} level(s) with fewer than {min_level} patients pooled as 'other'.")
        counts = s.value_counts()
    if len(counts) < 2:
        notes.append(f"'{name}' has a single level and was left out.")
        return None
    ref = counts.index[0]
    notes.append(f"'{name}': reference level '{ref}'.")
    cols = {f"{name} = {lev} (vs {ref})": (s == lev).astype(float).where(s.notna()) for lev in counts.index[1:]}
    return pd.DataFrame(cols)


def design_matrix(frame: pd.DataFrame, *, score: str, duration: str, event: str, clinical: list[str] | None = None,
                  min_level: int = 5) -> tuple[pd.DataFrame, list[str], list[str]]:
    """(design frame with ``duration``/``event`` and the model term first, clinical variables used, notes).

    Complete cases only; the model's score standardised over them.

    Raises:
        InputError: a missing column, non-finite scores/times, or no usable clinical variable.
    """
    for c in (score, duration, event):
        if c not in frame.columns:
            raise InputError(f"the Cox frame lacks column '{c}'; give one row per patient with the model's score, time and event.")
    names = clinical_columns(frame) if clinical is None else list(clinical)
    absent = [c for c in names if c not in frame.columns]
    if absent:
        raise InputError(f"clinical variable(s) {', '.join(absent)} are not columns of the cohort's clinical table.")
    if not names:
        raise InputError("this cohort has no clinical variables (age, sex, cancer type, stage or grade columns) to adjust "
                         "for, so the model's added value over the clinic cannot be estimated; add them to the label CSV.")
    sc = pd.to_numeric(frame[score], errors="coerce")
    t = pd.to_numeric(frame[duration], errors="coerce")
    if not np.isfinite(sc).all() or not np.isfinite(t).all():
        raise InputError(f"the columns '{score}' and '{duration}' must be finite numbers for every patient.")
    notes: list[str] = []
    blocks, used = [], []
    for c in names:
        miss = int(frame[c].isna().sum())
        if miss > frame.shape[0] / 2:
            notes.append(f"'{c}' is missing for {miss} of {frame.shape[0]} patients and was left out.")
            continue
        enc = _encode(frame[c], c, min_level, notes)
        if enc is not None:
            blocks.append(enc)
            used.append(c)
            if miss:
                notes.append(f"'{c}' is missing for {miss} patient(s).")
    if not blocks:
        raise InputError("none of the cohort's clinical variables is usable (each has a single value or is mostly missing); "
                         "the model's added value over the clinic cannot be estimated.")
    X = pd.concat(blocks, axis=1)
    keep = X.notna().all(axis=1)
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} patient(s) with a missing clinical value left out (complete cases: {int(keep.sum())}).")
    s = sc[keep]
    if s.std(ddof=0) == 0:
        raise InputError(f"the model's score '{score}' is the same for every patient; it cannot enter a Cox model.")
    out = pd.concat([pd.DataFrame({MODEL_TERM: (s - s.mean()) / s.std(ddof=0)}), X[keep]], axis=1)
    out.insert(0, "event", pd.to_numeric(frame.loc[keep, event]).astype(int))
    out.insert(0, "duration", t[keep])
    return out, used, notes


def _summary(cph: CoxPHFitter) -> pd.DataFrame:
    s = cph.summary
    return pd.DataFrame({"hr": s["exp(coef)"], "lower": s["exp(coef) lower 95%"], "upper": s["exp(coef) upper 95%"], "p": s["p"]},
                        index=pd.Index(s.index, name="term"))


def added_value(frame: pd.DataFrame, *, score: str = "score", duration: str = "survival_months", event: str = "event",
                clinical: list[str] | None = None, penalizer: float = 0.0, min_level: int = 5) -> CoxTable:
    """Multivariable Cox of the model's score with the clinical variables, and the LR test of what the score adds.

    Args:
        frame: one row per patient (e.g. the cohort's ``clinical_frame()`` joined with the out-of-fold score).
        score: the model's out-of-fold score column (higher = earlier event).
        clinical: variables to adjust for (default :func:`clinical_columns`).
        penalizer: lifelines' ridge penalty (0 = plain maximum likelihood).

    Raises:
        InputError: no clinical variables (the message says so), fewer than 2 events, bad columns.
    """
    design, used, notes = design_matrix(frame, score=score, duration=duration, event=event, clinical=clinical, min_level=min_level)
    n_events = int(design["event"].sum())
    if n_events < 2:
        raise InputError(f"{n_events} event(s) among the {len(design)} complete cases; a Cox model needs more events.")
    full = CoxPHFitter(penalizer=penalizer).fit(design, duration_col="duration", event_col="event")
    clin = CoxPHFitter(penalizer=penalizer).fit(design.drop(columns=MODEL_TERM), duration_col="duration", event_col="event")
    lr = float(2 * (full.log_likelihood_ - clin.log_likelihood_))
    lr_p = float(chi2.sf(max(lr, 0.0), 1))
    return CoxTable(table=_summary(full), design=design, n=len(design), events=n_events, lr_stat=lr, lr_p=lr_p,
                    c_clinical=float(clin.concordance_index_), c_full=float(full.concordance_index_),
                    variables=tuple(used), notes=notes)
