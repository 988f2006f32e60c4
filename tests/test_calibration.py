"""Calibration maps: the scale-free score, the Cox/Breslow fit (against scikit-survival), honesty of the sample, JSON."""

import json

import numpy as np
import pytest
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.util import Surv

from memamba_core.errors import InputError
from memamba_core.survival.breslow import cox_breslow
from memamba_core.survival.calibration import (
    CalibrationMap,
    ScoredPart,
    fit_calibration,
    fit_cross_fold,
    normal_scores,
)


def cox_data(n=400, beta=0.8, seed=0, ties=False):
    """Survival from S(t | x) = exp(-(t / 30) e^{beta x}), uniform censoring."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t_ev = rng.exponential(30.0 * np.exp(-beta * x))
    c = rng.uniform(0, 120, n)
    t = np.minimum(t_ev, c)
    if ties:
        t = np.ceil(t)
    return x, t, (t_ev <= c).astype(int)


def test_normal_scores_are_scale_free_and_strictly_increasing():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=80)
    r = np.sort(rng.normal(scale=2.0, size=50))  # some beyond the reference range
    z = normal_scores(r, ref)
    assert (np.diff(z) > 0).all()  # no ties are created: the C-index cannot change
    np.testing.assert_allclose(normal_scores(3.0 * r - 7.0, 3.0 * ref - 7.0), z, atol=1e-12)  # affine → identical
    assert abs(normal_scores([np.median(ref)], ref)[0]) < 0.05
    np.testing.assert_allclose(normal_scores(np.exp(ref), np.exp(ref)), normal_scores(ref, ref), atol=1e-12)  # any monotone map, at the knots


def test_normal_scores_refuse_bad_reference():
    with pytest.raises(InputError, match="same score"):
        normal_scores([0.1], [1.0, 1.0, 1.0])
    with pytest.raises(InputError, match="missing or infinite"):
        normal_scores([np.nan], [0.0, 1.0])


@pytest.mark.parametrize("ties", [False, True])
def test_cox_breslow_matches_scikit_survival(ties):
    x, t, e = cox_data(ties=ties)
    fit = cox_breslow(x, t, e)
    ref = CoxPHSurvivalAnalysis(ties="breslow", alpha=0).fit(x[:, None], Surv.from_arrays(e.astype(bool), t))
    assert fit.beta == pytest.approx(float(ref.coef_[0]), rel=1e-6)
    h = ref.cum_baseline_hazard_
    np.testing.assert_allclose(fit.baseline(h.x), h.y, rtol=1e-6)
    assert fit.beta == pytest.approx(0.8, abs=0.2)  # and it recovers the truth


def test_cox_breslow_refuses_what_it_cannot_fit():
    x, t, e = cox_data(n=30)
    with pytest.raises(InputError, match="at least 2 events"):
        cox_breslow(x, t, np.r_[1, np.zeros(29, int)])
    with pytest.raises(InputError, match="same score"):
        cox_breslow(np.ones(30), t, e)
    order = np.argsort(t)
    xs = np.empty(30)
    xs[order] = -np.arange(30.0)  # earliest time = highest score, all events: perfect separation
    with pytest.raises(InputError, match="no finite maximum"):
        cox_breslow(xs, t, np.ones(30, int))


def test_map_recovers_true_survival_probabilities():
    """A model whose score is a noisy monotone transform of the true log-hazard, calibrated on honest scores."""
    x, t, e = cox_data(n=2000, seed=3)
    score = np.exp(x)  # any monotone scale
    cal = fit_calibration([ScoredPart(score[:1500], t[:1500], e[:1500], score[1500:])], score[1500:], source="test")
    grid = np.array([6.0, 12.0, 24.0])
    new = np.array([-1.0, 0.0, 1.0])
    truth = np.exp(-(grid[None, :] / 30.0) * np.exp(0.8 * new[:, None]))
    np.testing.assert_allclose(cal.survival(np.exp(new), grid), truth, atol=0.05)


def test_horizon_limit_keeps_enough_patients_at_risk():
    x, t, e = cox_data(n=200)
    cal = fit_calibration([ScoredPart(x, t, e, x)], x, source="test", min_at_risk=25)
    assert (t >= cal.horizon_limit).sum() >= 25
    assert (t > cal.horizon_limit).sum() < 25
    assert cal.months()[0] == 0 and cal.months()[-1] == np.floor(t.max())


def test_percentile_is_among_the_calibration_patients():
    x, t, e = cox_data(n=300)
    cal = fit_calibration([ScoredPart(x, t, e, x)], x, source="test")
    q = np.quantile(cal.sample_z, [0.1, 0.5, 0.9])
    ref = np.sort(cal.reference)
    risks = np.interp(q, normal_scores(ref, ref), ref)  # the risks whose z are those quantiles
    np.testing.assert_allclose(cal.percentile(risks), [10, 50, 90], atol=1.0)


def test_calibration_is_monotone_in_risk_so_ranking_is_kept():
    x, t, e = cox_data(n=300)
    cal = fit_calibration([ScoredPart(x, t, e, x)], x, source="test")
    r = np.sort(np.random.default_rng(0).normal(size=40))
    s = cal.survival(r, [12.0])[:, 0]
    assert (np.diff(s) < 0).all()


def test_cross_fold_sample_holds_only_the_other_folds():
    x, t, e = cox_data(n=100)
    fold = np.arange(100) % 4
    refs = {k: x[fold != k] for k in range(4)}
    maps = fit_cross_fold(x, fold, t, e, refs, min_at_risk=5)
    for k, m in maps.items():
        assert m.sample_z.size == (fold != k).sum()
        np.testing.assert_array_equal(np.sort(m.sample_times), np.sort(t[fold != k]))
        np.testing.assert_array_equal(m.reference, np.sort(refs[k]))
    with pytest.raises(InputError, match="without reference risks"):
        fit_cross_fold(x, fold, t, e, {0: refs[0], 1: refs[1]})


def test_json_round_trip_and_tampering():
    x, t, e = cox_data(n=150)
    cal = fit_calibration([ScoredPart(x, t, e, x + 0.1)], x, source="inner cross-fit")
    d = json.loads(json.dumps(cal.to_dict()))  # plain JSON
    back = CalibrationMap.from_dict(d)
    r = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(back.survival(r, [3.0, 12.0]), cal.survival(r, [3.0, 12.0]), atol=1e-12)
    assert back.source == "inner cross-fit" and back.horizon_limit == cal.horizon_limit
    with pytest.raises(InputError, match="does not match"):
        CalibrationMap.from_dict({**d, "beta": d["beta"] + 0.5})
    with pytest.raises(InputError, match="not a calibration map"):
        CalibrationMap.from_dict({"format": "other"})
    bad = json.loads(json.dumps(d))
    bad["sample"]["z"][0] = float("nan")
    with pytest.raises(InputError, match="missing or infinite"):
        CalibrationMap.from_dict(bad)
    with pytest.raises(InputError, match="incomplete or damaged"):
        CalibrationMap.from_dict({k: v for k, v in d.items() if k != "sample"})


def test_bootstrap_is_seeded_and_cached():
    x, t, e = cox_data(n=120)
    cal = fit_calibration([ScoredPart(x, t, e, x)], x, source="test")
    a = cal.bootstrap(50, seed=1)
    assert cal.bootstrap(50, seed=1) is a
    b = CalibrationMap.from_dict(cal.to_dict()).bootstrap(50, seed=1)
    assert [f.beta for f in a] == [f.beta for f in b]
    assert np.std([f.beta for f in a]) > 0
