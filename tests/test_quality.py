"""Calibration and discrimination views from out-of-fold predictions."""

import numpy as np
import pandas as pd
import pytest

from memamba_core.errors import InputError
from memamba_core.survival.calibration import fit_cross_fold
from memamba_core.survival.metrics import concordance, integrated_brier, survival_at
from memamba_core.survival.quality import (
    brier_vs_null,
    calibrated_oof,
    calibration_table,
    discrimination,
    integrated_brier_curves,
    td_auc,
)


def oof_run(n=500, signal=1.0, seed=0, folds=5):
    """A cross-validated run's OOF frame: risk = signal · true log-hazard + noise; references from the training folds."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t_ev = rng.exponential(30.0 * np.exp(-0.9 * x))
    c = rng.uniform(0, 120, n)
    t, e = np.round(np.minimum(t_ev, c), 2) + 0.01, (t_ev <= c).astype(int)
    fold = np.arange(n) % folds
    scale = {k: rng.uniform(0.5, 3.0) for k in range(folds)}  # each fold model has its own scale
    risk = np.array([scale[f] * (signal * x[i] + 0.7 * rng.normal()) for i, f in enumerate(fold)])
    refs = {k: scale[k] * (signal * x[fold != k] * 1.3 + 0.3 * rng.normal(size=(fold != k).sum())) for k in range(folds)}  # over-confident in-sample
    frame = pd.DataFrame({"case_id": [f"P{i}" for i in range(n)], "fold": fold, "risk": risk, "survival_months": t, "censorship": 1 - e})
    maps = fit_cross_fold(risk, fold, t, e, refs)
    return calibrated_oof(frame, maps), frame, maps


def test_ibs_of_curves_matches_the_projects_step_metric():
    rng = np.random.default_rng(2)
    n = 80
    t, e = rng.exponential(20, n) + 0.1, (rng.random(n) < 0.6).astype(int)
    tt, te = np.r_[rng.exponential(20, 199) + 0.1, 10 * t.max()], np.r_[(rng.random(199) < 0.6).astype(int), 0]
    surv = np.cumprod(1 - rng.uniform(0.05, 0.4, size=(n, 4)), axis=1)
    cuts = np.array([8.0, 16.0, 30.0])
    grid = np.linspace(np.min(t) + 0.1, min(t.max(), tt.max()) - 0.1, 30)
    want = integrated_brier(tt, te, t, e, surv, cuts, grid)
    assert integrated_brier_curves(tt, te, t, e, survival_at(surv, cuts, grid), grid) == pytest.approx(want, rel=1e-12)


def test_informative_scores_beat_the_km_null_in_every_fold():
    oof, _, _ = oof_run()
    tab = brier_vs_null(oof)
    assert list(tab.index) == [0, 1, 2, 3, 4, "mean"]
    folds = tab.drop(index="mean")
    assert (folds["ibs_model"] < folds["ibs_km"]).all()
    assert tab.loc["mean", "ibs_gain"] > 0.01
    assert tab.loc["mean", "n"] == 500


def test_noise_scores_calibrate_to_about_the_null():
    oof, _, maps = oof_run(signal=0.0)
    tab = brier_vs_null(oof)
    assert abs(tab.loc["mean", "ibs_gain"]) < 0.01  # no signal: the map falls back to (almost) KM
    assert all(abs(m.fit.beta) < 0.3 for m in maps.values())


def test_calibration_table_predicted_matches_observed():
    oof, _, _ = oof_run(n=1500)
    tab = calibration_table(oof, [12, 36], n_groups=5)
    assert len(tab) == 10 and set(tab.group) == {1, 2, 3, 4, 5}
    assert (tab.groupby("horizon")["n"].sum() == 1500).all()
    inside = (tab.predicted >= tab.lower - 0.03) & (tab.predicted <= tab.upper + 0.03)
    assert inside.mean() >= 0.9
    assert (tab[tab.horizon == 12].sort_values("group").predicted.diff().dropna() < 0).all()  # higher group, lower survival
    with pytest.raises(InputError, match="beyond the follow-up"):
        calibration_table(oof, [12, 500])


def test_td_auc_and_c_index():
    oof, _, _ = oof_run()
    times, auc, mean = td_auc(oof)
    assert times.size == 20 and (auc > 0.6).all() and 0.6 < mean < 0.95
    est = discrimination(oof, n_boot=100)
    assert est.value == pytest.approx(concordance(oof.times, oof.events, oof.z()))
    assert est.low < est.value < est.high
    noise, _, _ = oof_run(signal=0.0)
    assert abs(td_auc(noise)[2] - 0.5) < 0.08


def test_missing_map_or_column_is_refused():
    _, frame, maps = oof_run(n=100)
    with pytest.raises(InputError, match=r"no calibration map for fold\(s\) \[4\]"):
        calibrated_oof(frame, {k: m for k, m in maps.items() if k != 4})
    with pytest.raises(InputError, match="lack column"):
        calibrated_oof(frame.drop(columns="risk"), maps)
