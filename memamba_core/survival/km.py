"""Kaplan–Meier curves of predicted-risk groups, log-rank test, hazard ratios.

All estimates come from lifelines (``KaplanMeierFitter``, ``multivariate_logrank_test``,
``CoxPHFitter``); this module only splits patients into groups and packs the
results into plain objects the figure builders (:mod:`memamba_core.viz`) draw.

Shapes: ``n`` patients; ``times (n,)`` months, ``events (n,)`` 1 = event /
0 = censored, ``risk (n,)`` with the project convention *higher risk = earlier
event*; ``T`` time points of a curve.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> risk = rng.normal(size=60)
>>> times = rng.exponential(np.exp(-risk)) * 20 + 0.1
>>> events = (rng.random(60) < 0.7).astype(int)
>>> res = km_groups(times, events, risk, "median")
>>> [c.label for c in res.curves]
['Low risk', 'High risk']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times

from ..errors import InputError

__all__ = [
    "SCHEMES",
    "KMCurve",
    "KMResult",
    "risk_groups",
    "km_curve",
    "km_groups",
    "logrank",
    "hazard_ratios",
    "number_at_risk",
]

#: Ways of cutting predicted risk into groups.
SCHEMES = ("median", "tertiles", "quartiles", "cutoff")

_LABELS = {
    "median": ("Low risk", "High risk"),
    "tertiles": ("Low risk", "Intermediate risk", "High risk"),
    "quartiles": ("Q1 (lowest risk)", "Q2", "Q3", "Q4 (highest risk)"),
    "cutoff": ("Below cut-off", "At or above cut-off"),
}


@dataclass(frozen=True)
class KMCurve:
    """One group's Kaplan–Meier estimate.

    ``timeline``, ``survival``, ``lower``, ``upper``: (T,) — the step function
    (starting at t = 0, S = 1) with its 95 % pointwise confidence band.
    ``censor_times``/``censor_survival``: (c,) where censored patients leave the
    curve (drawn as marks). ``median``/``median_lower``/``median_upper``: median
    survival in months with its 95 % CI; ``inf`` when the curve never reaches 0.5.
    """

    label: str
    n: int
    n_events: int
    timeline: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    censor_times: np.ndarray
    censor_survival: np.ndarray
    median: float
    median_lower: float
    median_upper: float


@dataclass(frozen=True)
class KMResult:
    """Kaplan–Meier curves of risk groups with the tests between them.

    ``groups (n,)``: each patient's group label. ``at_risk``: number at risk,
    one row per group, one column per time in ``at_risk.columns``.
    ``hazard_ratios``: one row per non-reference group (``hr``, ``lower``,
    ``upper``, ``p``), against ``curves[0]`` (the lowest-risk group).
    ``logrank_p`` is ``nan`` when there is only one non-empty group.
    """

    scheme: str
    curves: list[KMCurve]
    groups: np.ndarray
    at_risk: pd.DataFrame
    logrank_stat: float
    logrank_p: float
    hazard_ratios: pd.DataFrame

    def summary_frame(self) -> pd.DataFrame:
        """One row per group: patients, events, median survival (95 % CI), HR vs lowest group."""
        rows = []
        for c in self.curves:
            hr = self.hazard_ratios.loc[c.label] if c.label in self.hazard_ratios.index else None
            rows.append(
                {
                    "group": c.label,
                    "patients": c.n,
                    "events": c.n_events,
                    "median_months": c.median,
                    "median_lower": c.median_lower,
                    "median_upper": c.median_upper,
                    "hazard_ratio": 1.0 if hr is None else hr["hr"],
                    "hr_lower": np.nan if hr is None else hr["lower"],
                    "hr_upper": np.nan if hr is None else hr["upper"],
                    "hr_p": np.nan if hr is None else hr["p"],
                }
            )
        return pd.DataFrame(rows).set_index("group")


def _check_arrays(times, events, other=None, other_name="risk") -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=float).reshape(-1)
    e = np.asarray(events, dtype=float).reshape(-1)
    if t.shape != e.shape:
        raise InputError(f"times ({t.size}) and events ({e.size}) must have the same length.")
    if other is not None and np.asarray(other).reshape(-1).shape != t.shape:
        raise InputError(f"{other_name} ({np.asarray(other).size}) must have one value per patient ({t.size}).")
    if t.size == 0:
        raise InputError("No patients to estimate survival for; loosen the filters.")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InputError("Survival times must be finite and >= 0 months.")
    if not np.all(np.isin(e, (0, 1))):
        raise InputError("Events must be 0 (censored) or 1 (event).")
    return t, e.astype(int)


def risk_groups(risk, scheme: str = "median", cutoff: float | None = None) -> np.ndarray:
    """Label each patient with a risk group.

    ``risk (n,)``; ``scheme`` one of :data:`SCHEMES`. Quantile schemes cut at
    the empirical quantiles of ``risk`` (ties go to the higher group, so a
    patient at the median is "High risk"); ``"cutoff"`` needs ``cutoff``.
    Returns ``(n,)`` object array of labels, ordered low → high risk in
    ``_LABELS[scheme]``.
    """
    r = np.asarray(risk, dtype=float).reshape(-1)
    if scheme not in SCHEMES:
        raise InputError(f"Unknown risk-group scheme '{scheme}'; choose one of {', '.join(SCHEMES)}.")
    if not np.all(np.isfinite(r)):
        raise InputError("Predicted risk has NaN or infinite values; re-run the predictions.")
    labels = _LABELS[scheme]
    if scheme == "cutoff":
        if cutoff is None or not np.isfinite(cutoff):
            raise InputError("The 'cutoff' scheme needs a finite cut-off value.")
        edges = np.array([cutoff])
    else:
        q = np.linspace(0, 1, len(labels) + 1)[1:-1]
        edges = np.quantile(r, q)
    idx = np.searchsorted(edges, r, side="right")
    return np.asarray(labels, dtype=object)[idx]


def km_curve(times, events, label: str = "All") -> KMCurve:
    """Fit one Kaplan–Meier curve (lifelines) with its 95 % band and censor marks."""
    t, e = _check_arrays(times, events)
    kmf = KaplanMeierFitter(label=label).fit(t, e)
    sf = kmf.survival_function_[label]
    ci = kmf.confidence_interval_survival_function_
    timeline = sf.index.to_numpy(dtype=float)
    cens_t = np.sort(t[e == 0])
    cens_s = kmf.survival_function_at_times(cens_t).to_numpy(dtype=float) if cens_t.size else np.empty(0)
    med = float(kmf.median_survival_time_)
    med_ci = median_survival_times(ci).to_numpy(dtype=float).reshape(-1)
    return KMCurve(
        label=label,
        n=int(t.size),
        n_events=int(e.sum()),
        timeline=timeline,
        survival=sf.to_numpy(dtype=float),
        lower=ci.iloc[:, 0].to_numpy(dtype=float),
        upper=ci.iloc[:, 1].to_numpy(dtype=float),
        censor_times=cens_t,
        censor_survival=cens_s,
        median=med,
        median_lower=float(med_ci[0]),
        median_upper=float(med_ci[1]),
    )


def logrank(times, events, groups) -> tuple[float, float]:
    """Log-rank test across all groups (lifelines ``multivariate_logrank_test``).

    Returns ``(statistic, p)``; ``(nan, nan)`` when fewer than two groups are present.
    """
    t, e = _check_arrays(times, events, groups, "groups")
    g = np.asarray(groups).reshape(-1)
    if np.unique(g).size < 2:
        return float("nan"), float("nan")
    res = multivariate_logrank_test(t, g, e)
    return float(res.test_statistic), float(res.p_value)


def hazard_ratios(times, events, groups, order: list[str] | None = None) -> pd.DataFrame:
    """Cox hazard ratio of each group against the first (reference) group.

    One Cox model (lifelines ``CoxPHFitter``) on 0/1 indicators of the
    non-reference groups. ``order``: group labels, reference first (default:
    sorted unique labels). Returns a frame indexed by group with ``hr``,
    ``lower``, ``upper`` (95 % CI) and ``p``; empty when fewer than two groups
    or no events.
    """
    t, e = _check_arrays(times, events, groups, "groups")
    g = np.asarray(groups).reshape(-1)
    present = [x for x in (order or sorted(set(g.tolist()))) if np.any(g == x)]
    cols = ["hr", "lower", "upper", "p"]
    if len(present) < 2 or e.sum() == 0:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="group"), dtype=float)
    df = pd.DataFrame({"T": t, "E": e})
    names = {}
    for i, lab in enumerate(present[1:]):
        names[f"g{i}"] = lab
        df[f"g{i}"] = (g == lab).astype(float)
    cph = CoxPHFitter(penalizer=1e-6).fit(df, duration_col="T", event_col="E")
    s = cph.summary
    out = pd.DataFrame(
        {
            "hr": s["exp(coef)"].to_numpy(),
            "lower": s["exp(coef) lower 95%"].to_numpy(),
            "upper": s["exp(coef) upper 95%"].to_numpy(),
            "p": s["p"].to_numpy(),
        },
        index=pd.Index([names[c] for c in s.index], name="group"),
    )
    return out


def number_at_risk(times, groups, at, order: list[str] | None = None) -> pd.DataFrame:
    """Patients still at risk (time >= t) per group at each time in ``at`` (A,).

    Returns a frame (groups × A), rows in ``order`` (default: sorted labels).
    """
    t = np.asarray(times, dtype=float).reshape(-1)
    g = np.asarray(groups).reshape(-1)
    at = np.asarray(at, dtype=float).reshape(-1)
    labels = order or sorted(set(g.tolist()))
    data = {lab: [(t[g == lab] >= a).sum() for a in at] for lab in labels}
    return pd.DataFrame.from_dict(data, orient="index", columns=at).astype(int)


def _nice_ticks(t_max: float, n: int = 7) -> np.ndarray:
    """About ``n`` round time points from 0 to ``t_max`` (months)."""
    if t_max <= 0:
        return np.array([0.0])
    raw = t_max / max(n - 1, 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    return np.arange(0, t_max + 1e-9, step)


def km_groups(
    times,
    events,
    risk,
    scheme: str = "median",
    cutoff: float | None = None,
    at_risk_times=None,
) -> KMResult:
    """Kaplan–Meier curves of predicted-risk groups with log-rank p and hazard ratios.

    ``times, events, risk``: (n,). ``scheme``/``cutoff`` as in :func:`risk_groups`.
    ``at_risk_times``: times of the number-at-risk table (default: about seven
    round times up to the longest follow-up). Empty groups (possible with a
    custom cut-off) are left out.
    """
    t, e = _check_arrays(times, events, risk)
    groups = risk_groups(risk, scheme, cutoff)
    order = [lab for lab in _LABELS[scheme] if np.any(groups == lab)]
    curves = [km_curve(t[groups == lab], e[groups == lab], lab) for lab in order]
    at = _nice_ticks(float(t.max())) if at_risk_times is None else np.asarray(at_risk_times, dtype=float)
    stat, p = logrank(t, e, groups)
    return KMResult(
        scheme=scheme,
        curves=curves,
        groups=groups,
        at_risk=number_at_risk(t, groups, at, order),
        logrank_stat=stat,
        logrank_p=p,
        hazard_ratios=hazard_ratios(t, e, groups, order),
    )
