"""Calibration and discrimination views from out-of-fold predictions."""

import numpy as np
import pandas as pd
import pytest

from memamba_core.errors import InputError
from memamba_core.survival.calibration import fit_cross_fold
from memamba_core.survival.metrics import concordance, integrated_brier, survival_at
from memamba_core.survival.quality import (
    brier_terms,
    brier_vs_null,
    gain_intervals,
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


def test_brier_terms_average_to_scikit_survivals_score():
    rng = np.random.default_rng(3)
    n = 60
    t, e = rng.exponential(20, n) + 0.1, (rng.random(n) < 0.6).astype(int)
    tt, te = np.r_[rng.exponential(25, 149) + 0.1, 10 * t.max()], np.r_[(rng.random(149) < 0.5).astype(int), 0]
    grid = np.linspace(t.min() + 0.1, min(t.max(), tt.max()) - 0.1, 40)
    surv = np.exp(-np.outer(rng.uniform(0.01, 0.1, n), grid))
    terms = brier_terms(tt, te, t, e, surv, grid)
    assert terms.shape == (n,) and (terms >= 0).all()
    assert terms.mean() == pytest.approx(integrated_brier_curves(tt, te, t, e, surv, grid), rel=1e-10)
    # a patient censored before the first time contributes nothing; a perfect prediction scores 0
    t2, e2 = np.r_[t, grid[0] / 2], np.r_[e, 0]
    assert brier_terms(tt, te, t2, e2, np.r_[surv, surv[:1]], grid)[-1] == 0.0
    alive = np.r_[t, 10 * grid[-1]]
    assert brier_terms(tt, te, alive, np.r_[e, 0], np.r_[surv, np.ones((1, grid.size))], grid)[-1] == 0.0
    with pytest.raises(InputError, match="missing or infinite"):
        brier_terms(tt, te, t, e, np.where(surv > 0.5, np.nan, surv), grid)
    with pytest.raises(InputError, match="test follow-up"):
        brier_terms(tt, te, t, e, surv, grid + 1000)


def test_gain_intervals_are_seeded_and_cover_what_they_should():
    rng = np.random.default_rng(4)
    better = {0: rng.normal(0.05, 0.02, 40), 1: rng.normal(0.05, 0.02, 40)}
    noise = {0: rng.normal(0.0, 0.05, 20), 1: rng.normal(0.0, 0.05, 20), 2: rng.normal(0.0, 0.05, 20)}
    folds, (lo, hi) = gain_intervals(better, n_boot=500, seed=1)
    assert all(a > 0 for a, _ in folds.values()) and 0 < lo < 0.05 < hi
    assert gain_intervals(better, n_boot=500, seed=1) == (folds, (lo, hi))
    folds, (lo, hi) = gain_intervals(noise, n_boot=500, seed=1)
    assert all(a < 0 < b for a, b in folds.values()) and lo < 0 < hi
    # the mean over folds pools their patients: narrower than any fold's own interval
    assert hi - lo < min(b - a for a, b in folds.values())
    with pytest.raises(InputError, match="no finite"):
        gain_intervals({0: [0.1, np.nan]})
    with pytest.raises(InputError, match="level"):
        gain_intervals(better, level=1.0)


def test_informative_scores_beat_the_km_null_in_every_fold():
    oof, _, _ = oof_run()
    tab = brier_vs_null(oof)
    assert list(tab.index) == [0, 1, 2, 3, 4, "mean"]
    folds = tab.drop(index="mean")
    assert (folds["ibs_model"] < folds["ibs_km"]).all()
    assert tab.loc["mean", "ibs_gain"] > 0.01
    assert tab.loc["mean", "n"] == 500
    assert ((tab["ibs_gain_low"] < tab["ibs_gain"]) & (tab["ibs_gain"] < tab["ibs_gain_high"])).all()
    # the pooled mean is told from the null with 100 patients a fold; with 400 a fold, every fold is
    assert tab.loc["mean", "ibs_gain_low"] > 0
    assert tab.loc["mean", "vs_km"] == "better"
    assert set(tab["vs_km"]) <= {"better", "within noise"}
    big = brier_vs_null(oof_run(n=2000)[0])
    assert (big["ibs_gain_low"] > 0).all() and (big["vs_km"] == "better").all()
    assert ((big["ibs_gain_high"] - big["ibs_gain_low"]) < (tab["ibs_gain_high"] - tab["ibs_gain_low"])).all()


def test_a_model_ranking_backwards_is_told_worse_than_the_null():
    _, frame, maps = oof_run()
    tab = brier_vs_null(calibrated_oof(frame.assign(risk=-frame["risk"]), maps))  # the maps trust a ranking that is reversed
    assert (tab["ibs_gain_high"] < 0).all() and (tab["vs_km"] == "worse").all()


def test_noise_scores_calibrate_to_about_the_null():
    oof, _, maps = oof_run(signal=0.0)
    tab = brier_vs_null(oof)
    assert abs(tab.loc["mean", "ibs_gain"]) < 0.01  # no signal: the map falls back to (almost) KM
    assert tab.loc["mean", "ibs_gain_low"] < 0.002 and tab.loc["mean", "ibs_gain_high"] > -0.002  # not told from the null
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
