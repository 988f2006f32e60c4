"""A one-covariate Cox model with the Breslow baseline: the fit inside a calibration map.

``cox_breslow(z, times, events)`` maximises the Breslow partial likelihood by
Newton–Raphson (step-halving) and estimates the baseline cumulative hazard H₀
by Breslow's estimator; ``S(t | z) = exp(−H₀(t) e^{βz})``. Written out (a few
lines of numpy) rather than called from lifelines so that a calibration's
bootstrap (hundreds of refits) takes milliseconds; the tests check it against
scikit-survival's ``CoxPHSurvivalAnalysis(ties="breslow")``.

Shapes: n patients, U distinct event times, P scored patients, T times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["CoxFit", "cox_breslow"]


def _vector(x, what: str, n: int | None = None) -> np.ndarray:
    v = np.asarray(x, dtype=float).reshape(-1)
    if n is not None and v.size != n:
        raise InputError(f"{what} has {v.size} values but {n} were expected (one per patient).")
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        raise InputError(f"{what} has {bad.size} missing or infinite values (positions {', '.join(map(str, bad[:5]))}); "
                         "every patient needs a finite value.")
    return v


def _survival_data(times, events, what: str) -> tuple[np.ndarray, np.ndarray]:
    t = _vector(times, f"{what}: times")
    e = np.asarray(events).reshape(-1)
    if e.size != t.size:
        raise InputError(f"{what}: {t.size} times but {e.size} event flags; give one of each per patient.")
    if (t < 0).any():
        raise InputError(f"{what}: {(t < 0).sum()} negative survival times; times must be ≥ 0 months.")
    if not np.isin(e, (0, 1, True, False)).all():
        raise InputError(f"{what}: events must be 1 (event) or 0 (censored); pass 1 − censorship for MCAT labels.")
    return t, e.astype(int)


@dataclass(frozen=True)
class CoxFit:
    """A one-covariate Cox model with its Breslow baseline.

    ``event_times`` (U,) distinct event times, ascending; ``cum_hazard`` (U,) the
    Breslow baseline cumulative hazard H₀ at them (at z = 0; right-continuous
    step function, 0 before the first event).
    """

    beta: float
    event_times: np.ndarray
    cum_hazard: np.ndarray

    def baseline(self, times) -> np.ndarray:
        """H₀ at ``times`` (T,) → (T,)."""
        idx = np.searchsorted(self.event_times, np.asarray(times, dtype=float).reshape(-1), side="right")
        return np.concatenate([[0.0], self.cum_hazard])[idx]

    def survival(self, z, times) -> np.ndarray:
        """S(t | z) for (P,) scores at (T,) times → (P, T)."""
        hr = np.exp(self.beta * np.asarray(z, dtype=float).reshape(-1, 1))
        return np.exp(-self.baseline(times)[None, :] * hr)


def _risk_sets(t: np.ndarray, e: np.ndarray):
    """Sorted order, distinct event times (U,), events per time d (U,), first sorted index at risk per time (U,)."""
    order = np.argsort(t, kind="stable")
    ts = t[order]
    u, d = np.unique(t[e == 1], return_counts=True)
    start = np.searchsorted(ts, u, side="left")  # patients order[start:] have t ≥ u
    return order, u, d, start


def cox_breslow(z, times, events, *, max_iter: int = 50, tol: float = 1e-9) -> CoxFit:
    """Fit S(t | z) = exp(−H₀(t) e^{βz}) by Newton–Raphson on the Breslow partial likelihood.

    Args:
        z: (n,) covariate. times: (n,) months. events: (n,) 1 = event, 0 = censored.

    Returns:
        :class:`CoxFit` (β and the Breslow H₀). Step-halving keeps every step
        an ascent; the result equals scikit-survival's ``CoxPHSurvivalAnalysis(ties="breslow")``.

    Raises:
        InputError: fewer than 2 events, a constant covariate, or a likelihood
        without a finite maximum (z separates the events perfectly).
    """
    t, e = _survival_data(times, events, "calibration sample")
    x = _vector(z, "calibration scores", t.size)
    if e.sum() < 2:
        raise InputError(f"calibration sample: {int(e.sum())} event(s) among {t.size} patients; a Cox fit needs at least 2 events.")
    if np.ptp(x) == 0:
        raise InputError("calibration sample: every patient has the same score; the model separates no one, so nothing can be calibrated.")
    order, u, d, start = _risk_sets(t, e)
    xs = x[order]
    sum_events_x = x[e == 1].sum()

    def parts(b: float):
        w = np.exp(b * xs - np.max(b * xs))  # (n,) shifted for stability; the shift cancels in the ratios
        s0 = np.cumsum(w[::-1])[::-1][start]
        s1 = np.cumsum((w * xs)[::-1])[::-1][start]
        s2 = np.cumsum((w * xs * xs)[::-1])[::-1][start]
        loglik = b * sum_events_x - np.sum(d * (np.log(s0) + np.max(b * xs)))
        return loglik, sum_events_x - np.sum(d * s1 / s0), -np.sum(d * (s2 / s0 - (s1 / s0) ** 2))

    beta = 0.0
    with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):  # separation drives β to ±inf
        ll, grad, hess = parts(beta)
        for _ in range(max_iter):
            if not hess < 0 or abs(beta) > 50:
                break
            step = -grad / hess
            for _ in range(30):
                new = parts(beta + step)
                if new[0] >= ll - 1e-12:
                    break
                step /= 2
            beta_new = beta + step
            converged = abs(beta_new - beta) < tol * (1 + abs(beta))
            beta, (ll, grad, hess) = beta_new, new
            if converged:
                break
    if not np.isfinite(beta) or abs(beta) > 50 or not abs(grad) <= 1e-4 * (1 + e.sum()):
        raise InputError("calibration sample: the Cox fit has no finite maximum (the scores separate events from "
                         "non-events perfectly); more patients are needed to calibrate.")
    w = np.exp(beta * xs)
    s0 = np.cumsum(w[::-1])[::-1][start]
    return CoxFit(beta=float(beta), event_times=u.astype(float), cum_hazard=np.cumsum(d / s0))


