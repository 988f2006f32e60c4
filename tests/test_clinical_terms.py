"""One patient in clinical terms: horizons (and their refusal), median, bands, risk group, the ensemble's spread."""

import json

import numpy as np
import pytest

from memamba_core.errors import InputError
from memamba_core.survival.calibration import ScoredPart, fit_calibration
from memamba_core.survival.clinical_terms import (
    DEFAULT_HORIZONS,
    predict_ensemble,
    predict_one_model,
    resolve_horizons,
    risk_group,
)


def make_map(seed=0, n=300, beta=0.9, c_max=150.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t_ev = rng.exponential(30.0 * np.exp(-beta * x))
    c = rng.uniform(0, c_max, n)
    t, e = np.minimum(t_ev, c), (t_ev <= c).astype(int)
    return fit_calibration([ScoredPart(x, t, e, x)], x, source="test")


@pytest.fixture(scope="module")
def cal():
    return make_map()


def test_default_horizons_keep_those_inside_follow_up():
    assert resolve_horizons(None, 100.0) == (DEFAULT_HORIZONS, ())
    assert resolve_horizons(None, 40.0) == ((12.0, 36.0), (60.0,))
    with pytest.raises(InputError, match="shorter than every default horizon"):
        resolve_horizons(None, 6.0)


def test_explicit_horizon_beyond_follow_up_is_refused():
    with pytest.raises(InputError, match=r"horizon\(s\) 60 months lie beyond the follow-up .*40\.0 months"):
        resolve_horizons([12, 60], 40.0)
    with pytest.raises(InputError, match="positive months"):
        resolve_horizons([0, 12], 40.0)


def test_one_model_prediction(cal):
    p = predict_one_model(cal, 0.0, scored_by="fold 1", fold=1, n_boot=100)
    assert p.months[0] == 0 and np.all(np.diff(p.months) == 1) and p.months[-1] == np.floor(p.follow_up)
    assert p.survival[0] == 1.0 and (np.diff(p.survival) <= 0).all()
    assert (p.lower <= p.survival + 1e-12).all() and (p.survival <= p.upper + 1e-12).all()
    assert (p.upper - p.lower)[-1] > 0  # a real band
    for h, iv in p.horizons.items():
        assert iv.low <= iv.value <= iv.high
        assert iv.value == pytest.approx(cal.survival([0.0], [h])[0, 0])
    assert p.median is not None
    s = cal.survival([0.0], [p.median.value - 1e-6, p.median.value])[0]
    assert s[0] > 0.5 >= s[1]  # the median is where the curve first reaches 0.5
    assert p.median.low <= p.median.value <= p.median.high
    assert "bootstrap" in p.interval_kind and p.folds == (1,)
    json.dumps(p.to_dict())


def test_higher_risk_means_lower_survival_and_higher_group(cal):
    lo, hi = (predict_one_model(cal, r, scored_by="x", fold=0, n_boot=50) for r in (-1.5, 1.5))
    assert all(lo.horizons[h].value > hi.horizons[h].value for h in lo.horizons)
    assert (lo.risk_group, hi.risk_group) == ("low", "high")
    assert lo.percentile < 15 < 85 < hi.percentile


def test_risk_group_cut_offs_are_fixed_tertiles_of_training_patients(cal):
    assert [risk_group(p) for p in (10, 33.2, 33.4, 50, 66.6, 66.7, 99)] == ["low", "low", "intermediate", "intermediate",
                                                                            "intermediate", "high", "high"]
    ref = np.sort(cal.reference)
    z20 = np.quantile(cal.sample_z, 0.2)
    from memamba_core.survival.calibration import normal_scores
    r20 = np.interp(z20, normal_scores(ref, ref), ref)
    assert predict_one_model(cal, r20, scored_by="x", fold=0, n_boot=20).risk_group == "low"


def test_median_not_reached_is_none():
    cal = make_map(beta=0.5, c_max=20.0)  # short follow-up: S stays above 0.5 for a low-risk patient
    p = predict_one_model(cal, -2.0, horizons=[6], scored_by="x", fold=0, n_boot=30)
    assert p.median is None


def test_ensemble_mean_and_range_across_folds():
    maps = {k: make_map(seed=k) for k in range(3)}
    risks = {0: 0.3, 1: -0.2, 2: 0.8}
    p = predict_ensemble(maps, risks, scored_by="ensemble")
    each = np.stack([maps[k].survival([risks[k]], p.months)[0] for k in range(3)])
    np.testing.assert_allclose(p.survival, each.mean(0))
    np.testing.assert_allclose(p.lower, each.min(0))
    np.testing.assert_allclose(p.upper, each.max(0))
    assert p.follow_up == min(m.horizon_limit for m in maps.values())
    assert "range across the 3 fold models" in p.interval_kind and p.folds == (0, 1, 2)
    single = predict_ensemble({0: maps[0]}, {0: 0.3}, scored_by="one")
    np.testing.assert_allclose(single.survival, maps[0].survival([0.3], single.months)[0])
    with pytest.raises(InputError, match="calibration map"):
        predict_ensemble({0: maps[0]}, {0: 0.1, 5: 0.2}, scored_by="x")
