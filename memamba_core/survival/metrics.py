"""Survival metrics on top of scikit-survival: C-indices, Brier score, time-dependent AUC, bootstrap CIs.

Glossary: P patients, K time bins, T evaluation times.

Conventions (shared by every function here)
-------------------------------------------
* ``times``: (P,) observed times in months, finite and > 0.
* ``events``: (P,) 1/True = the event was observed, 0/False = censored. (This
  is the *opposite* of the MCAT ``censorship`` column: ``events = 1 - censorship``.)
* ``risk``: (P,) one score per patient, **higher = earlier event** (the
  project's convention, ``risk = -sum_k S_k``).
* Survival curves from the discrete-time model: ``survival`` (P, K) holds
  S_k = P(T past bin k). With the training fold's inner cut-points
  c_0 < … < c_{K-2}, bin k covers [c_{k-1}, c_k) (c_{-1} = 0, c_{K-1} = ∞), so
  the curve is turned into a right-continuous step function
  ``S(t) = 1`` for t < c_0 and ``S(t) = S_k`` for t in [c_k, c_{k+1}).
  At a cut-point the curve is exactly the model's S_k (no interpolation);
  S_{K-1} (beyond the last cut) never enters a finite-time metric.

Every function validates its inputs first (small ``_check_*`` helpers) and
raises :class:`~memamba_core.errors.InputError` with a specific message, e.g.
"All samples are censored" — such data have no comparable pair and no score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sksurv.metrics import (
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)
from sksurv.util import Surv

from ..errors import InputError

__all__ = [
    "Estimate",
    "concordance",
    "c_index_ci",
    "ipcw_c_index",
    "integrated_brier",
    "time_dependent_auc",
    "survival_at",
    "bootstrap_ci",
]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a percentile bootstrap interval (``low``, ``high``) at ``level``."""

    value: float
    low: float
    high: float
    level: float
    n_boot: int  # bootstrap resamples that gave a finite score

    def to_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high, "level": self.level, "n_boot": self.n_boot}


# ---------------------------------------------------------------- validation


def _check_times_events(times, events, what: str = "data") -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=float).reshape(-1)
    e_raw = np.asarray(events).reshape(-1)
    if t.size != e_raw.size:
        raise InputError(f"{what}: times has {t.size} values but events has {e_raw.size}; give one of each per patient.")
    if t.size == 0:
        raise InputError(f"{what}: no patients; a survival metric needs at least two.")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise InputError(f"{what}: times has {bad.size} missing or infinite values (patients {_idx(bad)}); drop or fix them.")
    bad = np.flatnonzero(t < 0)
    if bad.size:
        raise InputError(f"{what}: times has {bad.size} negative values (patients {_idx(bad)}); times must be ≥ 0 months.")
    try:
        e_num = e_raw.astype(float)
    except (TypeError, ValueError) as err:
        raise InputError(f"{what}: events must be 0/1 or True/False, got values like {e_raw[:3].tolist()}.") from err
    bad = np.flatnonzero(~np.isin(e_num, (0.0, 1.0)))
    if bad.size:
        raise InputError(
            f"{what}: events must be 0 (censored) or 1 (event); patients {_idx(bad)} have other values "
            f"(e.g. {e_raw[bad[0]]!r}). If you have an MCAT censorship column, pass 1 - censorship."
        )
    e = e_num.astype(bool)
    if not e.any():
        raise InputError(f"{what}: All samples are censored; a survival metric needs at least one observed event.")
    return t, e


def _check_scores(risk, n: int, what: str = "risk") -> np.ndarray:
    r = np.asarray(risk, dtype=float).reshape(-1)
    if r.size != n:
        raise InputError(f"{what} has {r.size} values but there are {n} patients; give one score per patient.")
    bad = np.flatnonzero(~np.isfinite(r))
    if bad.size:
        raise InputError(f"{what} has {bad.size} missing or infinite values (patients {_idx(bad)}); every patient needs a score.")
    return r


def _check_curves(survival, n: int) -> np.ndarray:
    s = np.asarray(survival, dtype=float)
    if s.ndim != 2 or s.shape[0] != n:
        raise InputError(f"survival curves must be (patients, K) = ({n}, K), got shape {s.shape}.")
    if not np.isfinite(s).all() or (s < -1e-6).any() or (s > 1 + 1e-6).any():
        raise InputError("survival curves must hold probabilities in [0, 1] with no missing values.")
    if (np.diff(s, axis=1) > 1e-6).any():
        raise InputError("survival curves must be non-increasing along the bins (S_k = prod_{m<=k} (1 - h_m)).")
    return np.clip(s, 0.0, 1.0)


def _check_cuts(cuts, k: int) -> np.ndarray:
    c = np.asarray(cuts, dtype=float).reshape(-1)
    if c.size != k - 1:
        raise InputError(f"cuts must hold K-1 = {k - 1} inner cut-points for {k} bins, got {c.size}.")
    if c.size and (not np.isfinite(c).all() or (np.diff(c) < 0).any()):
        raise InputError("cuts must be finite and non-decreasing (the training fold's bin edges).")
    return c


def _comparable_pairs(t: np.ndarray, e: np.ndarray) -> bool:
    """True if some pair (i, j) has an event at t_i < t_j (Harrell-comparable)."""
    return bool(e.any() and t[e].min() < t.max())


def _idx(rows: np.ndarray, limit: int = 8) -> str:
    text = ", ".join(str(int(i)) for i in rows[:limit])
    return text + (f" and {rows.size - limit} more" if rows.size > limit else "")


def _harrell(t: np.ndarray, e: np.ndarray, r: np.ndarray, tied_tol: float = 1e-8) -> float:
    """Harrell's C by explicit pairs, identical to sksurv's rules (used inside the bootstrap).

    Patient i with an event is comparable with j when t_j > t_i, or t_j = t_i
    and j is censored; a risk tie (|r_i − r_j| ≤ tied_tol) counts one half.
    O(P²) memory, so only for P up to a few thousand; raises InputError
    without comparable pairs.
    """
    comp = e[:, None] & ((t[None, :] > t[:, None]) | ((t[None, :] == t[:, None]) & ~e[None, :]))
    n = int(comp.sum())
    if n == 0:
        raise InputError("No comparable pairs; the C-index is undefined.")
    diff = r[:, None] - r[None, :]
    concordant = int((comp & (diff > tied_tol)).sum())
    tied = int((comp & (np.abs(diff) <= tied_tol)).sum())
    return (concordant + 0.5 * tied) / n


def _finite(value: float, what: str) -> float:
    """InputError when a score came out NaN/inf (e.g. no event before an evaluation time)."""
    if not np.isfinite(value):
        raise InputError(f"{what} is undefined on these data (no events or no comparable patients at the evaluation times).")
    return float(value)


def _surv(t: np.ndarray, e: np.ndarray) -> np.ndarray:
    return Surv.from_arrays(event=e, time=t)


# ---------------------------------------------------------------- metrics


def concordance(times, events, risk) -> float:
    """Harrell's C-index (scikit-survival ``concordance_index_censored``).

    The fraction of comparable pairs (the earlier time is an event) in which
    the patient with the earlier event has the higher ``risk``; ties in risk
    count one half. 0.5 = random ordering, 1 = perfect.

    Args:
        times: (P,) observed times. events: (P,) 1 = event. risk: (P,) higher = earlier event.

    Does not accept: all-censored data, data with no comparable pair (every
    event at the last time), missing times or scores. It is not corrected for
    censoring (see :func:`ipcw_c_index`).
    """
    t, e = _check_times_events(times, events)
    r = _check_scores(risk, t.size)
    if not _comparable_pairs(t, e):
        raise InputError("No comparable pairs: every event happens at or after the last follow-up time; the C-index is undefined.")
    return _finite(concordance_index_censored(e, t, r)[0], "C-index")


def ipcw_c_index(train_times, train_events, times, events, risk, tau: float | None = None) -> float:
    """Uno's IPCW C-index (scikit-survival ``concordance_index_ipcw``).

    Pairs are weighted by the inverse probability of censoring, estimated by
    Kaplan–Meier on the *training* patients (``train_*``), so the score does
    not depend on the censoring distribution. ``tau`` truncates follow-up
    (pairs whose earlier time is ≥ tau are ignored); by default the largest
    test time strictly below the last training time.

    Does not accept: test times beyond the last training time when ``tau`` is
    not given below it (the censoring weight there is unknown); all-censored data.
    """
    tt, te = _check_times_events(train_times, train_events, "training data")
    t, e = _check_times_events(times, events, "test data")
    r = _check_scores(risk, t.size)
    limit = tt.max()
    if tau is None:
        inside = t[t < limit]
        if inside.size == 0:
            raise InputError("Every test time is at or beyond the last training time; give a smaller tau.")
        tau = float(inside.max())
    if tau <= 0 or not np.isfinite(tau):
        raise InputError(f"tau must be a positive time in months, got {tau}.")
    if not (e & (t < tau)).any():
        raise InputError(f"No test event before tau = {tau:.3g} months; the IPCW C-index is undefined.")
    try:
        return _finite(concordance_index_ipcw(_surv(tt, te), _surv(t, e), r, tau=tau)[0], "IPCW C-index")
    except ValueError as err:  # censoring survival reaches 0 before tau
        raise InputError(f"IPCW C-index cannot be computed up to tau = {tau:.3g} months ({err}); give a smaller tau.") from err


def survival_at(survival, cuts, eval_times) -> np.ndarray:
    """Evaluate the step survival functions at ``eval_times``.

    Args:
        survival: (P, K) S_k from the model. cuts: (K-1,) the training fold's inner cut-points.
        eval_times: (T,) times in months.

    Returns:
        (P, T): ``S(t) = 1`` for t < c_0, ``S_k`` for t in [c_k, c_{k+1}) (module docstring).
    """
    s = np.asarray(survival, dtype=float)
    c = np.asarray(cuts, dtype=float).reshape(-1)
    t = np.asarray(eval_times, dtype=float).reshape(-1)
    padded = np.concatenate([np.ones((s.shape[0], 1)), s], axis=1)  # (P, K+1): column j = S_{j-1}
    col = np.searchsorted(c, t, side="right")  # number of cuts ≤ t
    return padded[:, col]


def _eval_grid(t: np.ndarray, tt: np.ndarray, n: int = 50) -> np.ndarray:
    lo, hi = t.min(), min(t.max(), tt.max())
    grid = np.linspace(lo, hi, n + 2)[1:-1]
    return grid[(grid >= lo) & (grid < hi)]


def integrated_brier(train_times, train_events, times, events, survival, cuts, eval_times=None) -> float:
    """Integrated Brier score of the predicted step survival curves (scikit-survival).

    The time-averaged squared error between S(t) and the observed status,
    IPCW-weighted with the training patients' censoring distribution. Lower is
    better; 0.25 is what S(t) = 0.5 everywhere scores. ``eval_times`` defaults
    to 50 evenly spaced times strictly inside the test follow-up (and below the
    last training time). Curves are turned into step functions as described in
    the module docstring.

    Does not accept: evaluation times outside [min, max) of the test times;
    curves that increase; all-censored data.
    """
    tt, te = _check_times_events(train_times, train_events, "training data")
    t, e = _check_times_events(times, events, "test data")
    s = _check_curves(survival, t.size)
    c = _check_cuts(cuts, s.shape[1])
    grid = _eval_grid(t, tt) if eval_times is None else np.asarray(eval_times, dtype=float).reshape(-1)
    if grid.size < 2:
        raise InputError("integrated Brier score needs at least two evaluation times inside the test follow-up.")
    if grid.min() < t.min() or grid.max() >= t.max():
        raise InputError(
            f"evaluation times must lie in [{t.min():.3g}, {t.max():.3g}) months (the test follow-up); "
            f"got {grid.min():.3g}..{grid.max():.3g}."
        )
    try:
        return _finite(integrated_brier_score(_surv(tt, te), _surv(t, e), survival_at(s, c, grid), grid), "integrated Brier score")
    except ValueError as err:
        raise InputError(f"integrated Brier score cannot be computed ({err}).") from err


def time_dependent_auc(train_times, train_events, times, events, survival, cuts, eval_times=None) -> tuple[np.ndarray, np.ndarray, float]:
    """Cumulative/dynamic AUC(t) of 1 − S(t) (scikit-survival ``cumulative_dynamic_auc``).

    AUC(t): the probability that a patient with an event by t has a higher
    predicted risk 1 − S(t) than one still event-free after t (IPCW-weighted).
    ``eval_times`` defaults to the cut-points that lie inside the test follow-up
    and below the last training time — at those times S(t) is exactly the
    model's S_k, no interpolation.

    Returns:
        (times (T,), auc (T,), mean AUC weighted by the KM estimate as in sksurv).

    Does not accept: times outside the test follow-up; no cut-point usable by default.
    """
    tt, te = _check_times_events(train_times, train_events, "training data")
    t, e = _check_times_events(times, events, "test data")
    s = _check_curves(survival, t.size)
    c = _check_cuts(cuts, s.shape[1])
    if eval_times is None:
        grid = c[(c >= t.min()) & (c < t.max()) & (c < tt.max())]
        if grid.size == 0:
            raise InputError("No bin cut-point lies inside the test follow-up; pass eval_times explicitly.")
    else:
        grid = np.asarray(eval_times, dtype=float).reshape(-1)
    if grid.min() < t.min() or grid.max() >= t.max():
        raise InputError(f"evaluation times must lie in [{t.min():.3g}, {t.max():.3g}) months (the test follow-up).")
    est = 1.0 - survival_at(s, c, grid)
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            auc, mean_auc = cumulative_dynamic_auc(_surv(tt, te), _surv(t, e), est, grid)
    except ValueError as err:
        raise InputError(f"time-dependent AUC cannot be computed ({err}).") from err
    return grid, np.asarray(auc, dtype=float), _finite(mean_auc, "time-dependent AUC")


def bootstrap_ci(
    score: Callable[[np.ndarray], float],
    n: int,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, int]:
    """Percentile bootstrap of ``score(indices)`` over ``n`` patients resampled with replacement.

    Resamples on which the score is undefined (an :class:`InputError`, e.g. all
    censored) are skipped and not counted. Seeded: the same seed gives the same interval.

    Returns:
        (low, high, number of resamples that gave a score).
    """
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level}.")
    if n_boot < 10:
        raise InputError(f"n_boot must be at least 10, got {n_boot}.")
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        try:
            vals.append(score(idx))
        except InputError:
            continue
    if len(vals) < 10:
        raise InputError(f"Only {len(vals)} of {n_boot} bootstrap resamples had a defined score; the data have too few events.")
    a = (1 - level) / 2
    lo, hi = np.quantile(vals, [a, 1 - a])
    return float(lo), float(hi), len(vals)


def c_index_ci(times, events, risk, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> Estimate:
    """Harrell's C-index with a seeded percentile bootstrap interval (patients resampled).

    Example:
        >>> est = c_index_ci([5, 10, 15, 20], [1, 1, 0, 1], [4, 3, 2, 1], n_boot=200)
        >>> est.value
        1.0
    """
    t, e = _check_times_events(times, events)
    r = _check_scores(risk, t.size)
    value = concordance(t, e, r)

    fast = t.size <= 3000

    def score(idx: np.ndarray) -> float:
        ti, ei = t[idx], e[idx]
        if not ei.any() or not _comparable_pairs(ti, ei):
            raise InputError("resample without comparable pairs")
        if fast:
            return _harrell(ti, ei, r[idx])
        return float(concordance_index_censored(ei, ti, r[idx])[0])

    lo, hi, used = bootstrap_ci(score, t.size, n_boot=n_boot, level=level, seed=seed)
    return Estimate(value=value, low=lo, high=hi, level=level, n_boot=used)
