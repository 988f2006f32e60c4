"""Calibration: a model's risk score → a survival *function*, fitted on honest scores of training patients.

The model's own curves (K = 4 steps, ``S_k``) rank patients well but their
levels are not probabilities a clinician can read (docs/calibration.md has the
numbers). A :class:`CalibrationMap` turns a fold model's risk into a survival
function in three steps:

1. **Scale-free score.** ``z = normal_scores(risk, reference)``: the risk's
   normal score among the fold model's *own training patients'* risks
   (``reference``, R values): its mid-rank percentile p among them, then
   z = Φ⁻¹(p), interpolated linearly between the reference values and
   extrapolated beyond them with the slope between their 10th and 90th
   percentiles. Strictly increasing (no ties are created, the C-index is
   unchanged) and comparable across models whose raw scales differ.
2. **Cox / Breslow.** ``S(t | z) = exp(−H₀(t) · exp(β z))``: a one-covariate
   proportional-hazards model (Breslow partial likelihood, Breslow baseline
   cumulative hazard H₀, :func:`~memamba_core.survival.breslow.cox_breslow`) fitted on a **calibration
   sample**: training patients of the fold, each scored by a model that did
   *not* train on them (inner cross-fitting, or the other folds' out-of-fold
   predictions), each z taken among *that* model's own training risks.
   The patients being scored are never in it.
3. **Support.** The function is defined from 0 to the sample's last follow-up;
   a horizon is accepted up to ``horizon_limit``, the last time at which at
   least ``min_at_risk`` sample patients are still at risk.

The map is JSON-serialisable (:meth:`CalibrationMap.to_dict`; it lives in a
fold's meta record): it stores its inputs (reference risks, calibration
sample) and β, and :meth:`CalibrationMap.from_dict` refits and checks β.

Shapes: R reference risks, n sample patients, U distinct event times of the
sample, P patients scored, T evaluation times (months), B bootstrap fits.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> eta = rng.normal(size=200)
>>> t = rng.exponential(30 * np.exp(-eta)); e = (rng.random(200) < 0.7).astype(int)
>>> part = ScoredPart(risk=eta + rng.normal(size=200), times=t, events=e, reference=eta + rng.normal(size=200))
>>> cal = fit_calibration([part], reference=eta, source="example")
>>> s = cal.survival(np.array([-1.0, 1.0]), [12.0])
>>> bool(s[0, 0] > s[1, 0])
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
from scipy.stats import norm

from ..errors import InputError
from .breslow import CoxFit, _survival_data, _vector, cox_breslow

__all__ = [
    "MIN_AT_RISK",
    "ScoredPart",
    "CalibrationMap",
    "normal_scores",
    "fit_calibration",
    "fit_cross_fold",
]

MIN_AT_RISK = 10  # a horizon needs at least this many calibration patients still at risk
FORMAT = "memamba-calibration"
_VERSION = 1


# ---------------------------------------------------------------- step 1: the scale-free score


def _knots(reference) -> tuple[np.ndarray, np.ndarray]:
    """Distinct sorted reference risks (Q,) and their normal scores Φ⁻¹(mid-rank percentile) (Q,)."""
    r = _vector(reference, "reference risks")
    if r.size < 2:
        raise InputError(f"reference risks: {r.size} value(s); the scale-free score needs the risks of at least 2 training patients.")
    values, inverse = np.unique(r, return_inverse=True)
    if values.size < 2:
        raise InputError("reference risks are all equal: the model gives every training patient the same score, "
                         "so nothing can be ranked; retrain the model.")
    ranks = (np.arange(r.size) + 0.5)[np.argsort(np.argsort(r, kind="stable"), kind="stable")]  # (R,) 0.5 … R − 0.5
    mid = np.bincount(inverse, weights=ranks) / np.bincount(inverse)  # tied values share their mean rank
    return values, norm.ppf(mid / r.size)


def normal_scores(risk, reference) -> np.ndarray:
    """The scale-free score z of each risk among the ``reference`` risks (see module docstring, step 1).

    Args:
        risk: (P,) risks of one model (higher = earlier event).
        reference: (R,) that model's risks of its own training patients.

    Returns:
        (P,) z, strictly increasing in ``risk``; a risk equal to the reference median gets about 0.
    """
    r = _vector(risk, "risk")
    x, z = _knots(reference)
    q = np.quantile(x, [0.1, 0.9])  # distinct values, so q[1] > q[0]
    slope = np.diff(np.interp(q, x, z))[0] / (q[1] - q[0])  # tails: the 10th–90th percentile slope
    out = np.interp(r, x, z)
    out = np.where(r < x[0], z[0] + slope * (r - x[0]), out)
    return np.where(r > x[-1], z[-1] + slope * (r - x[-1]), out)


# ---------------------------------------------------------------- the map


@dataclass(frozen=True)
class ScoredPart:
    """Patients scored by one model that did not train on them.

    ``risk`` (n,) that model's risks; ``times`` (n,) months; ``events`` (n,) 1 = event;
    ``reference`` (R,) the same model's risks of its own training patients.
    """

    risk: np.ndarray
    times: np.ndarray
    events: np.ndarray
    reference: np.ndarray


@dataclass(frozen=True)
class CalibrationMap:
    """A fold model's risk → survival function (module docstring). Build with :func:`fit_calibration`.

    Attributes:
        reference: (R,) sorted risks the fold model gives its own training patients (the score's scale).
        sample_z, sample_times, sample_events: (n,) the calibration sample (honest scores of training patients).
        fit: the Cox/Breslow fit on the sample.
        horizon_limit: months; the last time with ≥ ``min_at_risk`` sample patients at risk.
        source: where the honest scores came from (shown to users).
        min_at_risk: as above.
    """

    reference: np.ndarray
    sample_z: np.ndarray
    sample_times: np.ndarray
    sample_events: np.ndarray
    fit: CoxFit
    horizon_limit: float
    source: str
    min_at_risk: int = MIN_AT_RISK
    _boot: dict = field(default_factory=dict, repr=False, compare=False)

    # ---- scoring
    def z(self, risk) -> np.ndarray:
        """(P,) risks of the fold model → (P,) scale-free scores."""
        return normal_scores(risk, self.reference)

    def survival(self, risk, times) -> np.ndarray:
        """Calibrated S(t) of (P,) risks at (T,) months → (P, T)."""
        return self.fit.survival(self.z(risk), times)

    def percentile(self, risk) -> np.ndarray:
        """(P,) share (0–100) of the calibration patients with a lower honest score (ties count one half)."""
        z = self.z(risk)
        s = np.sort(self.sample_z)
        return 100.0 * (np.searchsorted(s, z, "left") + np.searchsorted(s, z, "right")) / (2 * s.size)

    @property
    def max_time(self) -> float:
        """The sample's last follow-up time (months): the end of the monthly grid."""
        return float(self.sample_times.max())

    def months(self) -> np.ndarray:
        """(T,) the monthly grid 0, 1, …, ⌊max_time⌋."""
        return np.arange(0.0, np.floor(self.max_time) + 1.0)

    # ---- uncertainty
    def bootstrap(self, n_boot: int = 200, seed: int = 0) -> list[CoxFit]:
        """Cox/Breslow refits on ``n_boot`` resamples of the calibration sample (seeded; cached).

        Resamples whose fit is undefined (too few events) are skipped.
        """
        key = (int(n_boot), int(seed))
        if key not in self._boot:
            rng = np.random.default_rng(seed)
            fits, n = [], self.sample_z.size
            for _ in range(n_boot):
                idx = rng.integers(0, n, size=n)
                try:
                    fits.append(cox_breslow(self.sample_z[idx], self.sample_times[idx], self.sample_events[idx]))
                except InputError:
                    continue
            if len(fits) < max(10, n_boot // 2):
                raise InputError(f"calibration: only {len(fits)} of {n_boot} bootstrap resamples could be fitted; "
                                 "the calibration sample has too few events for an interval.")
            self._boot[key] = fits
        return self._boot[key]

    # ---- JSON
    def to_dict(self) -> dict:
        """JSON-safe dict (plain floats and lists)."""
        return {
            "format": FORMAT,
            "version": _VERSION,
            "method": "cox-breslow on normal scores",
            "source": self.source,
            "min_at_risk": int(self.min_at_risk),
            "beta": self.fit.beta,
            "horizon_limit": self.horizon_limit,
            "reference": [float(v) for v in self.reference],
            "sample": {
                "z": [float(v) for v in self.sample_z],
                "times": [float(v) for v in self.sample_times],
                "events": [int(v) for v in self.sample_events],
            },
        }

    @classmethod
    def from_dict(cls, d: dict) -> "CalibrationMap":
        """Rebuild (refit) from :meth:`to_dict`; InputError when the dict is not one or does not refit to its β."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise InputError(f"not a calibration map (format {d.get('format') if isinstance(d, dict) else None!r}); "
                             "recompute the run's calibration.")
        try:
            s = d["sample"]
            out = _build(d["reference"], s["z"], s["times"], s["events"], str(d["source"]), int(d["min_at_risk"]))
            stored = float(d["beta"])
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, InputError):
                raise
            raise InputError(f"calibration map is incomplete or damaged ({err!r}); recompute the run's calibration.") from err
        if not np.isfinite(stored) or abs(out.fit.beta - stored) > 1e-6 * (1 + abs(stored)):
            raise InputError(f"calibration map: the stored β = {stored} does not match its own sample (refit: {out.fit.beta:.6g}); "
                             "the file was edited or damaged — recompute the run's calibration.")
        return out


def _horizon_limit(t: np.ndarray, min_at_risk: int) -> float:
    s = np.sort(t)
    if s.size < min_at_risk:
        raise InputError(f"calibration sample: {s.size} patients, fewer than the {min_at_risk} needed at risk at any horizon.")
    return float(s[s.size - min_at_risk])  # at t ≤ this time, ≥ min_at_risk patients have t_i ≥ t


def _build(reference, z, times, events, source: str, min_at_risk: int) -> CalibrationMap:
    t, e = _survival_data(times, events, "calibration sample")
    zz = _vector(z, "calibration scores", t.size)
    ref = np.sort(_vector(reference, "reference risks"))
    _knots(ref)  # validates: ≥ 2 distinct values
    if min_at_risk < 1:
        raise InputError(f"min_at_risk must be ≥ 1, got {min_at_risk}.")
    return CalibrationMap(reference=ref, sample_z=zz, sample_times=t, sample_events=e, fit=cox_breslow(zz, t, e),
                          horizon_limit=_horizon_limit(t, min_at_risk), source=source, min_at_risk=min_at_risk)


def fit_calibration(parts: Iterable[ScoredPart], reference, *, source: str, min_at_risk: int = MIN_AT_RISK) -> CalibrationMap:
    """Fit the calibration map of one fold model.

    Args:
        parts: the calibration sample, in parts scored by different models (each
            part's z is taken among its own model's training risks). Only
            training patients of the fold, none scored by a model that trained on them.
        reference: (R,) the fold model's risks of its own training patients.
        source: a short phrase saying where ``parts`` came from.

    Raises:
        InputError: an empty sample, fewer than 2 events, non-finite values, or a degenerate score.
    """
    parts = list(parts)
    if not parts:
        raise InputError("calibration: no scored patients to fit on.")
    z = np.concatenate([normal_scores(p.risk, p.reference) for p in parts])
    t = np.concatenate([np.asarray(p.times, dtype=float).reshape(-1) for p in parts])
    e = np.concatenate([np.asarray(p.events).reshape(-1) for p in parts])
    return _build(reference, z, t, e, source, min_at_risk)


def fit_cross_fold(oof_risk, oof_fold, times, events, references: dict[int, np.ndarray], *,
                   min_at_risk: int = MIN_AT_RISK) -> dict[int, CalibrationMap]:
    """One map per fold from a run's out-of-fold predictions (every fold must be finished).

    Fold k's sample: the other folds' validation patients (all training patients
    of fold k), each scored by its own fold model j ≠ k, z taken among model
    j's training risks. Caveat (docs/calibration.md): those models j trained on
    fold k's validation patients, so the map is not independent of them the way
    an inner cross-fit is; their outcomes never enter the Cox fit itself.

    Args:
        oof_risk, oof_fold, times, events: (P,) per out-of-fold patient.
        references: fold → (R_k,) fold model k's risks of its own training patients.
    """
    r = _vector(oof_risk, "out-of-fold risk")
    f = np.asarray(oof_fold).reshape(-1).astype(int)
    t, e = _survival_data(times, events, "out-of-fold predictions")
    if not (f.size == t.size == r.size):
        raise InputError("out-of-fold predictions: risk, fold, times and events must have one value per patient.")
    folds = sorted(references)
    missing = sorted(set(f.tolist()) - set(folds))
    if missing:
        raise InputError(f"out-of-fold predictions name fold(s) {missing} without reference risks; give every fold's training risks.")
    out = {}
    for k in folds:
        parts = [ScoredPart(r[f == j], t[f == j], e[f == j], references[j]) for j in folds if j != k and (f == j).any()]
        out[k] = fit_calibration(parts, references[k], source="the other folds' out-of-fold predictions", min_at_risk=min_at_risk)
    return out
