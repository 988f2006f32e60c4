"""One patient's prediction in clinical terms: survival at horizons, median, risk group, percentile, with intervals.

Two ways a patient is scored (:mod:`memamba_core.train.scoring` decides which):

- **one fold model** (a patient of the run's own cohort, scored out-of-fold):
  the point estimate is that fold's :class:`~memamba_core.survival.calibration.CalibrationMap`;
  the interval is a **bootstrap of the calibration fit** (the calibration
  sample resampled, Cox/Breslow refitted; percentile interval, 95 % by default).
  It covers the uncertainty of the calibration, not of the model's weights.
- **the fold ensemble** (a new patient): each fold model's calibrated curve,
  averaged; the interval is the **range across the fold models** (min–max),
  the spread of models trained on different patients.

Horizons: 12, 36 and 60 months by default, keeping those inside the
follow-up the calibration supports (``horizon_limit``: at least
``min_at_risk`` calibration patients still at risk); a horizon asked for
explicitly beyond it is refused. The median is reported where the curve
reaches 0.5 inside that follow-up. Risk group: the patient's percentile
among the calibration patients (training patients, honest scores) cut at
fixed tertiles (:data:`RISK_GROUP_CUTOFFS`), never at quantiles of the
patients on screen.

Shapes: T months of the monthly grid, H horizons, F fold models, B bootstrap fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .breslow import CoxFit
from .calibration import CalibrationMap

__all__ = [
    "DEFAULT_HORIZONS",
    "RISK_GROUPS",
    "RISK_GROUP_CUTOFFS",
    "Interval",
    "ClinicalPrediction",
    "resolve_horizons",
    "automatic_horizons",
    "risk_group",
    "predict_one_model",
    "predict_ensemble",
]

DEFAULT_HORIZONS = (12.0, 36.0, 60.0)  # months: 1, 3 and 5 years
RISK_GROUPS = ("low", "intermediate", "high")
RISK_GROUP_CUTOFFS = (100.0 / 3.0, 200.0 / 3.0)  # percentiles among the calibration (training) patients


@dataclass(frozen=True)
class Interval:
    """A value with its interval (``low`` ≤ ``value`` ≤ ``high``); ``inf`` = not reached within follow-up."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class ClinicalPrediction:
    """What the Patient page and the report show.

    Attributes:
        months, survival, lower, upper: (T,) the monthly curve S(t) with its band, t = 0 … ⌊follow-up⌋.
        horizons: month → survival probability at it with its interval.
        median: median survival (months) with its interval, or None when S stays above 0.5 within follow-up.
        follow_up: months the calibration supports (horizons up to it).
        risk_group: one of :data:`RISK_GROUPS`. percentile: 0–100 among the calibration patients.
        interval_kind: how the band and intervals were made (a sentence for the page).
        scored_by: which model(s) scored the patient (a sentence for the page).
        folds: the fold models used. risks: fold → that model's raw risk (details section).
        skipped_horizons: default horizons left out because they lie beyond the follow-up.
    """

    months: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    horizons: dict[float, Interval]
    median: Interval | None
    follow_up: float
    risk_group: str
    percentile: float
    interval_kind: str
    scored_by: str
    folds: tuple[int, ...]
    risks: dict[int, float]
    skipped_horizons: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        """JSON-safe summary (curves as lists; ``inf`` written as None)."""
        def f(x):
            return None if not np.isfinite(x) else float(x)

        return {
            "months": self.months.tolist(), "survival": self.survival.tolist(),
            "lower": self.lower.tolist(), "upper": self.upper.tolist(),
            "horizons": {f"{h:g}": {k: f(v) for k, v in iv.to_dict().items()} for h, iv in self.horizons.items()},
            "median": None if self.median is None else {k: f(v) for k, v in self.median.to_dict().items()},
            "follow_up": self.follow_up, "risk_group": self.risk_group, "percentile": self.percentile,
            "interval_kind": self.interval_kind, "scored_by": self.scored_by, "folds": list(self.folds),
            "risks": {str(k): v for k, v in self.risks.items()}, "skipped_horizons": list(self.skipped_horizons),
        }


def resolve_horizons(horizons, follow_up: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(horizons to report, default horizons skipped) for a calibration supporting ``follow_up`` months.

    ``horizons=None``: :data:`DEFAULT_HORIZONS` inside the follow-up. Explicit
    horizons must all lie in (0, follow_up].

    Raises:
        InputError: an explicit horizon beyond the follow-up or not positive; no default horizon inside it.
    """
    if horizons is None:
        keep = tuple(h for h in DEFAULT_HORIZONS if h <= follow_up)
        if not keep:
            raise InputError(f"the calibration supports only {follow_up:.1f} months of follow-up, shorter than every default "
                             f"horizon ({', '.join(f'{h:g}' for h in DEFAULT_HORIZONS)} months); give shorter horizons.")
        return keep, tuple(h for h in DEFAULT_HORIZONS if h > follow_up)
    h = np.asarray(horizons, dtype=float).reshape(-1)
    if h.size == 0 or not np.isfinite(h).all() or (h <= 0).any():
        raise InputError(f"horizons must be positive months (e.g. 12, 36, 60), got {list(np.asarray(horizons).reshape(-1))}.")
    beyond = h[h > follow_up]
    if beyond.size:
        raise InputError(f"horizon(s) {', '.join(f'{x:g}' for x in beyond)} months lie beyond the follow-up this model's "
                         f"calibration supports ({follow_up:.1f} months: the last time with enough training patients still "
                         "at risk); choose horizons inside it.")
    return tuple(float(x) for x in np.unique(h)), ()


def automatic_horizons(follow_up: float) -> tuple[float, ...]:
    """The horizons reported when none are asked for, for a calibration supporting ``follow_up`` months.

    1, 3 and 5 years where at least two of them lie inside it; else the yearly
    horizons inside it (12, 24, 36 at most); with one year only, 6 and 12 months;
    under a year, a third and two thirds of the follow-up in whole months.
    """
    inside = [h for h in DEFAULT_HORIZONS if h <= follow_up]
    if len(inside) >= 2:
        return tuple(inside)
    yearly = [12.0 * y for y in range(1, int(follow_up // 12) + 1)]
    if len(yearly) >= 2:
        return tuple(yearly[:3])
    if yearly:
        return (6.0, 12.0)
    short = sorted({max(1.0, float(np.floor(follow_up * f))) for f in (1 / 3, 2 / 3)})
    if follow_up < 1.0:
        raise InputError(f"the calibration supports only {follow_up:.1f} months of follow-up: too short for any horizon.")
    return tuple(short)


def risk_group(percentile: float) -> str:
    """``low`` / ``intermediate`` / ``high`` from a percentile among the calibration patients (fixed tertile cut-offs)."""
    return RISK_GROUPS[int(np.searchsorted(RISK_GROUP_CUTOFFS, float(percentile), side="right"))]


def _median(jumps: np.ndarray, surv_at_jumps: np.ndarray, limit: float) -> float:
    """First jump time where S ≤ 0.5 (the curve is a step function), inf if none up to ``limit``."""
    hit = np.flatnonzero((surv_at_jumps <= 0.5) & (jumps <= limit))
    return float(jumps[hit[0]]) if hit.size else float("inf")


def _fit_median(fit: CoxFit, z: float, limit: float) -> float:
    return _median(fit.event_times, fit.survival([z], fit.event_times)[0], limit)


def _quantiles_inf(values: np.ndarray, qs) -> tuple[float, ...]:
    """Quantiles of values that may be inf (a median not reached): inf where the quantile falls among them."""
    big = np.finfo(float).max
    return tuple(float("inf") if q >= big else float(q) for q in np.quantile(np.where(np.isfinite(values), values, big), qs,
                                                                              method="inverted_cdf"))


def _months(follow_up: float) -> np.ndarray:
    return np.arange(0.0, np.floor(follow_up) + 1.0)


def predict_one_model(cal: CalibrationMap, risk: float, *, horizons=None, scored_by: str, fold: int,
                      n_boot: int = 200, level: float = 0.95, seed: int = 0) -> ClinicalPrediction:
    """A patient scored by one fold model: calibrated curve, bootstrap band (see module docstring).

    Args:
        cal: that fold's calibration map. risk: the fold model's raw risk of the patient.
        scored_by: the sentence the page shows (e.g. "out-of-fold: the fold 2 model, which did not train on this patient").
    """
    limit = cal.horizon_limit
    hz, skipped = resolve_horizons(horizons, limit)
    z = float(cal.z([risk])[0])
    months = _months(limit)
    fits = cal.bootstrap(n_boot, seed)
    grid = np.concatenate([months, hz])
    boot = np.stack([f.survival([z], grid)[0] for f in fits])  # (B, T + H)
    a = (1 - level) / 2
    lo, hi = np.quantile(boot, [a, 1 - a], axis=0)
    point = cal.fit.survival([z], grid)[0]
    T = months.size
    meds = np.array([_fit_median(f, z, limit) for f in fits])
    med = _fit_median(cal.fit, z, limit)
    pct = float(cal.percentile([risk])[0])
    return ClinicalPrediction(
        months=months, survival=point[:T], lower=np.minimum(lo[:T], point[:T]), upper=np.maximum(hi[:T], point[:T]),
        horizons={h: Interval(float(point[T + i]), float(min(lo[T + i], point[T + i])), float(max(hi[T + i], point[T + i])))
                  for i, h in enumerate(hz)},
        median=None if not np.isfinite(med) else Interval(med, *_quantiles_inf(meds, [a, 1 - a])),
        follow_up=limit, risk_group=risk_group(pct), percentile=pct,
        interval_kind=f"{level:.0%} bootstrap interval of the calibration fit ({len(fits)} resamples of its training patients)",
        scored_by=scored_by, folds=(int(fold),), risks={int(fold): float(risk)}, skipped_horizons=skipped,
    )


def predict_ensemble(maps: dict[int, CalibrationMap], risks: dict[int, float], *, horizons=None,
                     scored_by: str) -> ClinicalPrediction:
    """A patient scored by several fold models: the mean of their calibrated curves, their range as the band.

    Args:
        maps: fold → calibration map; risks: fold → that fold model's raw risk (same folds).
    """
    folds = sorted(risks)
    if not folds or set(folds) - set(maps):
        raise InputError(f"ensemble: every scoring fold needs a calibration map (folds {folds}, maps {sorted(maps)}).")
    limit = min(maps[k].horizon_limit for k in folds)
    hz, skipped = resolve_horizons(horizons, limit)
    months = _months(limit)
    jumps = np.unique(np.concatenate([maps[k].fit.event_times for k in folds]))
    grid = np.concatenate([months, hz, jumps])
    curves = np.stack([maps[k].survival([risks[k]], grid)[0] for k in folds])  # (F, T + H + U)
    mean = curves.mean(axis=0)
    T, H = months.size, len(hz)
    per_fold_median = np.array([_median(jumps, c[T + H:], limit) for c in curves])
    med = _median(jumps, mean[T + H:], limit)
    pct = float(np.mean([maps[k].percentile([risks[k]])[0] for k in folds]))
    return ClinicalPrediction(
        months=months, survival=mean[:T], lower=curves[:, :T].min(axis=0), upper=curves[:, :T].max(axis=0),
        horizons={h: Interval(float(mean[T + i]), float(curves[:, T + i].min()), float(curves[:, T + i].max()))
                  for i, h in enumerate(hz)},
        median=None if not np.isfinite(med) else Interval(med, float(per_fold_median.min()), float(per_fold_median.max())),
        follow_up=limit, risk_group=risk_group(pct), percentile=pct,
        interval_kind=f"range across the {len(folds)} fold models (lowest to highest prediction)",
        scored_by=scored_by, folds=tuple(folds), risks={k: float(risks[k]) for k in folds}, skipped_horizons=skipped,
    )
