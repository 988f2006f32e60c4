"""How good are a run's calibrated predictions? Calibration and discrimination, all out-of-fold.

Input: :class:`OOFSurvival`, each patient of the run scored by the fold model
that did not train on them and calibrated by that fold's
:class:`~memamba_core.survival.calibration.CalibrationMap`. Outputs (plain
frames and arrays; figures in :mod:`memamba_core.viz.calibration`):

- :func:`brier_vs_null` — per fold, the integrated Brier score of the
  calibrated curves and of the Kaplan–Meier curve of the fold's training
  patients given to everyone (the null model), same evaluation times, same
  IPCW weights (the fold's training patients), the gain's paired bootstrap
  interval over the fold's patients (:func:`brier_terms`, :func:`gain_intervals`),
  and the fold's C-index;
- :func:`calibration_table` — at each horizon, per risk quintile: the mean
  predicted survival against the observed Kaplan–Meier survival with its 95 % CI;
- :func:`td_auc` — cumulative/dynamic AUC(t) of the calibrated 1 − S(t) over time;
- :func:`discrimination` — Harrell's C-index of the pooled out-of-fold scores with a bootstrap CI.

Shapes: P patients, T evaluation times, F folds, H horizons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from sksurv.metrics import cumulative_dynamic_auc, integrated_brier_score

from ..errors import InputError
from .calibration import CalibrationMap
from .metrics import Estimate, _check_times_events, _eval_grid, _finite, _surv, c_index_ci, concordance

__all__ = [
    "OOFSurvival",
    "calibrated_oof",
    "training_of_folds",
    "integrated_brier_curves",
    "km_null_curves",
    "brier_terms",
    "gain_intervals",
    "brier_vs_null",
    "brier_record",
    "calibration_table",
    "td_auc",
    "discrimination",
]


@dataclass(frozen=True)
class OOFSurvival:
    """A run's out-of-fold predictions with their calibration maps.

    ``case_ids``, ``fold``, ``times``, ``events``, ``risk``: (P,); ``maps``:
    fold → the map of the fold model that scored those patients.
    """

    case_ids: np.ndarray
    fold: np.ndarray
    times: np.ndarray
    events: np.ndarray
    risk: np.ndarray
    maps: dict[int, CalibrationMap]

    def _per_fold(self, fn) -> np.ndarray:
        out = None
        for k, m in self.maps.items():
            sel = self.fold == k
            if not sel.any():
                continue
            v = fn(m, self.risk[sel])
            if out is None:
                out = np.zeros((self.risk.size,) + v.shape[1:])
            out[sel] = v
        return out

    def survival(self, times) -> np.ndarray:
        """Calibrated S(t) of every patient at (T,) months → (P, T)."""
        t = np.asarray(times, dtype=float).reshape(-1)
        return self._per_fold(lambda m, r: m.survival(r, t))

    def z(self) -> np.ndarray:
        """(P,) scale-free scores (each through its own fold's reference)."""
        return self._per_fold(lambda m, r: m.z(r))

    def percentile(self) -> np.ndarray:
        """(P,) each patient's percentile among their fold's calibration patients (0–100)."""
        return self._per_fold(lambda m, r: m.percentile(r))


def calibrated_oof(oof: pd.DataFrame, maps: dict[int, CalibrationMap]) -> OOFSurvival:
    """:class:`OOFSurvival` from a run's out-of-fold predictions frame (:func:`memamba_core.runs.read_oof`) (``case_id, fold, risk, survival_months, censorship``)."""
    need = {"case_id", "fold", "risk", "survival_months", "censorship"}
    missing = sorted(need - set(oof.columns))
    if missing:
        raise InputError(f"out-of-fold predictions lack column(s) {', '.join(missing)}; use the run's out-of-fold predictions (memamba_core.runs.read_oof).")
    fold = oof["fold"].to_numpy(int)
    absent = sorted(set(fold.tolist()) - set(maps))
    if absent:
        raise InputError(f"no calibration map for fold(s) {absent}; calibrate the run first (every finished fold needs one).")
    t, e = _check_times_events(oof["survival_months"].to_numpy(float), 1 - oof["censorship"].to_numpy(int), "out-of-fold predictions")
    risk = oof["risk"].to_numpy(float)
    if not np.isfinite(risk).all():
        raise InputError("out-of-fold predictions: the risk column has missing or infinite values; re-run the predictions.")
    return OOFSurvival(oof["case_id"].astype(str).to_numpy(), fold, t, e.astype(int), risk, dict(maps))


def training_of_folds(oof: OOFSurvival) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """fold → (times, events) of its training patients, taken as the other folds' patients.

    Right for a run whose folds partition the cohort (every patient validated
    once, trained on in every other fold) — the cross-validation runs of this project.
    """
    return {k: (oof.times[oof.fold != k], oof.events[oof.fold != k]) for k in sorted(set(oof.fold.tolist()))}


def _brier_inputs(train_times, train_events, times, events, survival, eval_times):
    tt, te = _check_times_events(train_times, train_events, "training data")
    t, e = _check_times_events(times, events, "test data")
    grid = np.asarray(eval_times, dtype=float).reshape(-1)
    s = np.asarray(survival, dtype=float)
    if s.shape != (t.size, grid.size):
        raise InputError(f"survival must be (patients, times) = ({t.size}, {grid.size}), got {s.shape}.")
    if not np.isfinite(s).all():
        raise InputError("survival has missing or infinite values.")
    if grid.size < 2 or grid.min() < t.min() or grid.max() >= t.max():
        raise InputError(f"evaluation times must be ≥ 2 times in [{t.min():.3g}, {t.max():.3g}) months (the test follow-up).")
    return tt, te, t, e, s, grid


def integrated_brier_curves(train_times, train_events, times, events, survival, eval_times) -> float:
    """Integrated Brier score of survival functions evaluated at ``eval_times`` (scikit-survival, IPCW from the training patients).

    Args:
        survival: (P, T) S(t) of each test patient at the (T,) ``eval_times``.
    """
    tt, te, t, e, s, grid = _brier_inputs(train_times, train_events, times, events, survival, eval_times)
    try:
        return _finite(integrated_brier_score(_surv(tt, te), _surv(t, e), s, grid), "integrated Brier score")
    except ValueError as err:
        raise InputError(f"integrated Brier score cannot be computed ({err}).") from err


def brier_terms(train_times, train_events, times, events, survival, eval_times) -> np.ndarray:
    """(P,) each test patient's share of the integrated Brier score: their mean is :func:`integrated_brier_curves`.

    The same terms as scikit-survival's ``integrated_brier_score`` (Graf et al.
    1999), kept per patient so that the score can be resampled by patient: at
    each time t, ``S_i(t)² / G(T_i)`` for a patient with an event by t,
    ``(1 − S_i(t))² / G(t)`` for one still followed after t, 0 for one censored
    before t (G: the training patients' censoring survival, as
    ``CensoringDistributionEstimator``), then the trapezoid rule over the (T,)
    ``eval_times`` divided by their range. ``survival``: (P, T).
    """
    from sksurv.nonparametric import CensoringDistributionEstimator

    tt, te, t, e, s, grid = _brier_inputs(train_times, train_events, times, events, survival, eval_times)
    try:
        cens = CensoringDistributionEstimator().fit(_surv(tt, te))
        g_grid, g_own = cens.predict_proba(grid), cens.predict_proba(t)
    except ValueError as err:
        raise InputError(f"integrated Brier score cannot be computed ({err}).") from err
    g_grid[g_grid == 0], g_own[g_own == 0] = np.inf, np.inf
    case = (t[:, None] <= grid[None, :]) & (e[:, None] == 1)
    control = t[:, None] > grid[None, :]
    per_time = np.square(s) * case / g_own[:, None] + np.square(1.0 - s) * control / g_grid[None, :]  # (P, T)
    terms = np.trapezoid(per_time, grid, axis=1) / (grid[-1] - grid[0])
    if not np.isfinite(terms).all():
        raise InputError("integrated Brier score cannot be computed (the censoring distribution reaches zero inside the evaluation times).")
    return terms


def gain_intervals(diffs: dict, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[dict, tuple[float, float]]:
    """Paired percentile bootstrap of per-patient differences, per fold and for the mean over folds.

    ``diffs``: fold → (P_k,) per-patient differences (e.g. KM null's Brier term
    minus the model's, :func:`brier_terms`). Each fold's patients are resampled
    with replacement (``n_boot`` times, seeded); the fold's interval is the
    percentile interval of the resampled means, and the mean-over-folds
    interval uses the same resamples, drawn in every fold at once (a bootstrap
    stratified by fold). The model, its calibration, the evaluation times and
    the censoring weights are held fixed: the interval is the noise of *these
    validation patients*, not of the training.

    Returns:
        (fold → (low, high), (low, high) of the mean over folds).
    """
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level}.")
    if n_boot < 10:
        raise InputError(f"n_boot must be at least 10, got {n_boot}.")
    if not diffs:
        raise InputError("no fold to resample.")
    rng = np.random.default_rng(seed)
    a = (1 - level) / 2
    draws, out = [], {}
    for k, d in diffs.items():
        d = np.asarray(d, dtype=float).reshape(-1)
        if d.size == 0 or not np.isfinite(d).all():
            raise InputError(f"fold {k}: no finite per-patient differences to resample.")
        means = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)  # (n_boot,)
        draws.append(means)
        lo, hi = np.quantile(means, [a, 1 - a])
        out[k] = (float(lo), float(hi))
    lo, hi = np.quantile(np.mean(draws, axis=0), [a, 1 - a])
    return out, (float(lo), float(hi))


def km_null_curves(train_times, train_events, n: int, eval_times) -> np.ndarray:
    """The null model: the training patients' Kaplan–Meier S(t) at (T,) times, the same for all ``n`` patients → (n, T)."""
    km = KaplanMeierFitter().fit(np.asarray(train_times, float), np.asarray(train_events, int))
    row = km.survival_function_at_times(np.asarray(eval_times, float)).to_numpy(dtype=float)
    return np.tile(row, (n, 1))


def brier_vs_null(
    oof: OOFSurvival,
    train: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Per fold: n, events, IBS of the calibrated curves, IBS of the KM null, their difference with its interval, C-index; a ``mean`` row last.

    ``train``: fold → (times, events) of its training patients (default :func:`training_of_folds`).
    Evaluation times: 50 evenly spaced inside the fold's validation follow-up
    and below its last training time (as :func:`memamba_core.survival.metrics.integrated_brier`).
    ``ibs_gain`` = ``ibs_km − ibs_model`` (> 0: the model beats the null);
    ``ibs_gain_low``/``ibs_gain_high``: its ``level`` paired bootstrap interval
    over the fold's validation patients (:func:`gain_intervals`; the mean row's
    from the same resamples, stratified by fold) — an interval holding 0 means
    the fold cannot tell the model from the null; ``vs_km`` says it in words
    (``better`` / ``worse``: the interval is above / below 0; ``within noise``;
    ``undefined``). A fold where a score is undefined gets NaN and is left out
    of the mean and its interval.
    """
    train = train or training_of_folds(oof)
    rows, diffs = [], {}
    for k in sorted(set(oof.fold.tolist())):
        sel = oof.fold == k
        t, e = oof.times[sel], oof.events[sel]
        tt, te = train[k]
        row = {"fold": k, "n": int(sel.sum()), "events": int(e.sum())}
        try:
            grid = _eval_grid(t, np.asarray(tt, float))
            model, null = oof.maps[k].survival(oof.risk[sel], grid), km_null_curves(tt, te, t.size, grid)
            row["ibs_model"] = integrated_brier_curves(tt, te, t, e, model, grid)
            row["ibs_km"] = integrated_brier_curves(tt, te, t, e, null, grid)
            diffs[k] = brier_terms(tt, te, t, e, null, grid) - brier_terms(tt, te, t, e, model, grid)
        except InputError:
            row["ibs_model"] = row["ibs_km"] = np.nan
        try:
            row["c_index"] = concordance(t, e, oof.risk[sel])
        except InputError:
            row["c_index"] = np.nan
        rows.append(row)
    df = pd.DataFrame(rows)
    df["ibs_gain"] = df["ibs_km"] - df["ibs_model"]
    df["ibs_gain_low"] = df["ibs_gain_high"] = np.nan
    mean = df.drop(columns="fold").mean(numeric_only=True).to_dict()
    if diffs:
        per_fold, (mean["ibs_gain_low"], mean["ibs_gain_high"]) = gain_intervals(diffs, n_boot=n_boot, level=level, seed=seed)
        for k, (lo, hi) in per_fold.items():
            df.loc[df["fold"] == k, ["ibs_gain_low", "ibs_gain_high"]] = lo, hi
    mean.update({"fold": "mean", "n": int(df["n"].sum()), "events": int(df["events"].sum())})
    out = pd.concat([df, pd.DataFrame([mean])], ignore_index=True).set_index("fold")
    out["vs_km"] = [_verdict(lo, hi) for lo, hi in zip(out["ibs_gain_low"], out["ibs_gain_high"])]
    return out


def brier_record(table: pd.DataFrame) -> dict:
    """:func:`brier_vs_null`'s frame as plain JSON: ``{"folds": [{"fold", "n", "events", "ibs_model", "ibs_km",
    "ibs_gain", "ibs_gain_low", "ibs_gain_high", "vs_km", "c_index"}, …], "mean": {… the same without "fold"},
    "folds_better": …, "folds_worse": …}`` (NaN → None)."""

    def row(r) -> dict:
        out = {}
        for c, v in r.items():
            if c == "vs_km":
                out[c] = str(v)
            elif c in ("n", "events"):
                out[c] = int(v)
            else:
                out[c] = float(v) if np.isfinite(v) else None
        return out

    folds = [{"fold": int(k), **row(r)} for k, r in table.drop(index="mean").iterrows()]
    return {"folds": folds, "mean": row(table.loc["mean"]),
            "folds_better": sum(f["vs_km"] == "better" for f in folds), "folds_worse": sum(f["vs_km"] == "worse" for f in folds)}


def _verdict(low: float, high: float) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return "undefined"
    return "better" if low > 0 else "worse" if high < 0 else "within noise"


def _km_at(times, events, h: float) -> tuple[float, float, float]:
    """KM S(h) with its 95 % CI (lifelines, log-log), the value of the step in force at h."""
    kmf = KaplanMeierFitter().fit(times, events)
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_survival_function_
    i = int(np.searchsorted(sf.index.to_numpy(float), h, side="right")) - 1
    return float(sf.iloc[i]), float(ci.iloc[i, 0]), float(ci.iloc[i, 1])


def calibration_table(oof: OOFSurvival, horizons, n_groups: int = 5) -> pd.DataFrame:
    """Predicted vs observed survival at each horizon by risk group (quantiles of the out-of-fold percentile).

    Returns one row per (horizon, group): ``horizon``, ``group`` (1 = lowest
    risk), ``n``, ``events``, ``predicted`` (mean calibrated S(h)), ``observed``
    (KM S(h) of the group) with ``lower``/``upper`` (95 % CI).

    Raises:
        InputError: a horizon beyond every fold's supported follow-up, or fewer patients than groups.
    """
    h = np.asarray(horizons, dtype=float).reshape(-1)
    limit = min(m.horizon_limit for m in oof.maps.values())
    if h.size == 0 or not np.isfinite(h).all() or (h <= 0).any():
        raise InputError("horizons must be positive months, e.g. 12, 36, 60.")
    if (h > limit).any():
        raise InputError(f"horizon(s) {', '.join(f'{x:g}' for x in h[h > limit])} months lie beyond the follow-up the "
                         f"calibration supports ({limit:.1f} months, at least {min(m.min_at_risk for m in oof.maps.values())} "
                         "patients at risk); choose shorter horizons.")
    if oof.times.size < 2 * n_groups:
        raise InputError(f"{oof.times.size} patients are too few for {n_groups} risk groups; use fewer groups.")
    pct = oof.percentile()
    edges = np.quantile(pct, np.linspace(0, 1, n_groups + 1)[1:-1])
    group = np.searchsorted(edges, pct, side="right")
    pred = oof.survival(h)
    rows = []
    for j, hz in enumerate(h):
        for g in range(n_groups):
            sel = group == g
            if not sel.any():
                continue
            obs, lo, hi = _km_at(oof.times[sel], oof.events[sel], hz)
            rows.append({"horizon": hz, "group": g + 1, "n": int(sel.sum()), "events": int(oof.events[sel].sum()),
                         "predicted": float(pred[sel, j].mean()), "observed": obs, "lower": lo, "upper": hi})
    return pd.DataFrame(rows)


def td_auc(oof: OOFSurvival, eval_times=None, n_times: int = 20) -> tuple[np.ndarray, np.ndarray, float]:
    """Cumulative/dynamic AUC(t) of the calibrated 1 − S(t), pooled over folds (scikit-survival).

    Censoring weights from all the run's patients (the pooled out-of-fold set
    is the whole cohort). Default times: ``n_times`` evenly spaced between the
    10th and 90th percentile of the event times.

    Returns:
        (times (T,), AUC (T,), the mean AUC weighted as scikit-survival does).
    """
    t, e = oof.times, oof.events.astype(bool)
    if eval_times is None:
        lo, hi = np.quantile(t[e], [0.1, 0.9])
        grid = np.linspace(lo, hi, n_times)
    else:
        grid = np.asarray(eval_times, dtype=float).reshape(-1)
    grid = grid[(grid >= t.min()) & (grid < t.max())]
    if grid.size == 0:
        raise InputError("no evaluation time lies inside the follow-up; give eval_times inside it.")
    est = 1.0 - oof.survival(grid)
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            auc, mean = cumulative_dynamic_auc(_surv(t, e), _surv(t, e), est, grid)
    except ValueError as err:
        raise InputError(f"time-dependent AUC cannot be computed ({err}).") from err
    return grid, np.asarray(auc, dtype=float), _finite(mean, "time-dependent AUC")


def discrimination(oof: OOFSurvival, *, n_boot: int = 1000, seed: int = 0) -> Estimate:
    """Harrell's C-index of the pooled out-of-fold scale-free scores with a percentile bootstrap CI.

    The scale-free score (not the raw risk) is pooled, because raw risks of
    different fold models are on different scales; within a fold the two rank alike.
    """
    return c_index_ci(oof.times, oof.events, oof.z(), n_boot=n_boot, seed=seed)
