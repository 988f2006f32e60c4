"""Prediction tables behind the page widgets: the clinical join, filters, percentiles (pandas only)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SEX_CHOICES", "apply_filters", "filter_options", "held_out_default", "percentile_of", "scored_out_of_fold",
           "with_clinical"]

SEX_CHOICES = ("all", "female", "male")


def scored_out_of_fold(oof: pd.DataFrame | None, case_ids) -> pd.DataFrame | None:
    """Out-of-fold predictions of the patients in ``case_ids``, in the columns of ``predict_cohort``.

    ``event`` = 1 − censorship and ``in_training`` false (each patient was
    scored by the fold model that did not train on it). None when no row is left.
    """
    if oof is None:
        return None
    df = oof[oof["case_id"].isin(set(case_ids))]
    if df.empty:
        return None
    return df.assign(event=1 - df["censorship"].astype(int), in_training=False).reset_index(drop=True)


def with_clinical(preds: pd.DataFrame, clinical: pd.DataFrame) -> pd.DataFrame:
    """Predictions (one row per case_id) joined with the cohort's clinical columns they lack."""
    extra = [c for c in clinical.columns if c not in preds.columns]
    return preds.join(clinical[extra], on="case_id")


def held_out_default(df: pd.DataFrame, minimum: int = 10) -> bool:
    """Whether a "held-out patients only" toggle starts on: when at least ``minimum`` rows are not ``in_training``."""
    return int((~df["in_training"].astype(bool)).sum()) >= minimum


def filter_options(df: pd.DataFrame) -> dict:
    """What each filter can offer: cancer types, sites, age range, whether sex is known."""
    opts = {}
    for col in ("oncotree_code", "site"):
        if col in df and df[col].notna().any():
            opts[col] = sorted(df[col].dropna().astype(str).unique().tolist())
    if "age" in df and pd.to_numeric(df["age"], errors="coerce").notna().any():
        a = pd.to_numeric(df["age"], errors="coerce")
        opts["age"] = (int(np.floor(a.min())), int(np.ceil(a.max())))
    if "is_female" in df and df["is_female"].notna().any():
        opts["is_female"] = True
    return opts


def apply_filters(df: pd.DataFrame, cancer_types=None, sites=None, age=None, sex: str = "all",
                  held_out_only: bool = False) -> pd.DataFrame:
    """Rows matching every given filter (None / empty = no filter on that column).

    ``age``: (low, high) inclusive; patients with unknown age are dropped only
    when the range is narrower than the data's. ``sex``: one of :data:`SEX_CHOICES`.
    ``held_out_only``: drop rows with ``in_training`` true.
    """
    m = pd.Series(True, index=df.index)
    if cancer_types:
        m &= df["oncotree_code"].astype(str).isin(list(cancer_types))
    if sites:
        m &= df["site"].astype(str).isin(list(sites))
    if age is not None and "age" in df:
        a = pd.to_numeric(df["age"], errors="coerce")
        full = (np.floor(a.min()), np.ceil(a.max()))
        if (age[0], age[1]) != full:
            m &= a.between(age[0], age[1])
    if sex != "all" and "is_female" in df:
        m &= pd.to_numeric(df["is_female"], errors="coerce") == (1 if sex == "female" else 0)
    if held_out_only and "in_training" in df:
        m &= ~df["in_training"].astype(bool)
    return df[m]


def percentile_of(value: float, values) -> float:
    """Share (0–100) of ``values`` strictly below ``value``, ties counted half."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return float("nan")
    return float(100.0 * ((v < value).sum() + 0.5 * (v == value).sum()) / v.size)
