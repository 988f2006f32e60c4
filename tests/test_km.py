"""KM / log-rank / hazard-ratio helpers, checked against lifelines called directly."""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test

from memamba_core.errors import InputError
from memamba_core.survival.km import SCHEMES, hazard_ratios, km_curve, km_groups, logrank, number_at_risk, risk_groups


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(1)
    risk = rng.normal(size=120)
    times = rng.exponential(np.exp(-risk)) * 24 + 0.5
    events = (rng.random(120) < 0.65).astype(int)
    return times, events, risk


@pytest.mark.parametrize("scheme,n", [("median", 2), ("tertiles", 3), ("quartiles", 4)])
def test_risk_groups_quantiles_sizes_and_order(cohort, scheme, n):
    _, _, risk = cohort
    g = risk_groups(risk, scheme)
    labels = list(dict.fromkeys(g[np.argsort(risk)]))
    assert len(labels) == n
    counts = pd.Series(g).value_counts()
    assert counts.max() - counts.min() <= 1
    # every patient of a higher group has higher risk than every patient of a lower one
    for lo, hi in zip(labels[:-1], labels[1:]):
        assert risk[g == lo].max() < risk[g == hi].min()


def test_risk_groups_cutoff_and_errors(cohort):
    _, _, risk = cohort
    g = risk_groups(risk, "cutoff", cutoff=0.5)
    assert set(g[risk >= 0.5]) == {"At or above cut-off"} and set(g[risk < 0.5]) == {"Below cut-off"}
    with pytest.raises(InputError, match="cut-off"):
        risk_groups(risk, "cutoff")
    with pytest.raises(InputError, match="scheme"):
        risk_groups(risk, "deciles")
    with pytest.raises(InputError, match="NaN"):
        risk_groups(np.array([0.1, np.nan]), "median")


def test_km_curve_matches_lifelines(cohort):
    t, e, _ = cohort
    c = km_curve(t, e, "all")
    kmf = KaplanMeierFitter().fit(t, e)
    np.testing.assert_allclose(c.survival, kmf.survival_function_.iloc[:, 0].to_numpy())
    np.testing.assert_allclose(c.timeline, kmf.timeline)
    np.testing.assert_allclose(c.lower, kmf.confidence_interval_.iloc[:, 0].to_numpy())
    np.testing.assert_allclose(c.upper, kmf.confidence_interval_.iloc[:, 1].to_numpy())
    assert c.median == pytest.approx(kmf.median_survival_time_)
    assert c.median_lower <= c.median <= c.median_upper
    assert c.censor_times.size == (e == 0).sum()
    np.testing.assert_allclose(c.censor_survival, kmf.survival_function_at_times(np.sort(t[e == 0])).to_numpy())
    assert c.n == t.size and c.n_events == e.sum()


def test_km_groups_tests_match_lifelines(cohort):
    t, e, r = cohort
    res = km_groups(t, e, r, "median")
    g = res.groups
    lo, hi = g == "Low risk", g == "High risk"
    ref = logrank_test(t[lo], t[hi], e[lo], e[hi])
    assert res.logrank_p == pytest.approx(ref.p_value, rel=1e-6)
    df = pd.DataFrame({"T": t, "E": e, "high": hi.astype(float)})
    cph = CoxPHFitter().fit(df, "T", "E")
    assert res.hazard_ratios.loc["High risk", "hr"] == pytest.approx(cph.hazard_ratios_["high"], rel=1e-3)
    assert res.hazard_ratios.loc["High risk", "hr"] > 1  # simulated: higher risk, earlier events
    assert res.logrank_p < 0.05
    summary = res.summary_frame()
    assert list(summary.index) == ["Low risk", "High risk"]
    assert summary.loc["Low risk", "hazard_ratio"] == 1.0
    assert summary["patients"].sum() == t.size


def test_multigroup_logrank_and_at_risk(cohort):
    t, e, r = cohort
    res = km_groups(t, e, r, "quartiles", at_risk_times=[0, 10, 20])
    ref = multivariate_logrank_test(t, res.groups, e)
    assert res.logrank_p == pytest.approx(ref.p_value)
    assert list(res.at_risk.columns) == [0, 10, 20]
    for lab in res.at_risk.index:
        assert res.at_risk.loc[lab, 10] == (t[res.groups == lab] >= 10).sum()
    assert res.at_risk[0].sum() == t.size
    assert len(res.hazard_ratios) == 3


def test_single_group_and_empty_inputs(cohort):
    t, e, r = cohort
    res = km_groups(t, e, r, "cutoff", cutoff=r.max() + 1)
    assert len(res.curves) == 1 and np.isnan(res.logrank_p) and res.hazard_ratios.empty
    assert np.isnan(logrank(t, e, np.zeros(t.size))[1]) and 0 <= logrank(t, e, np.arange(t.size) % 2)[1] <= 1
    with pytest.raises(InputError, match="No patients"):
        km_groups([], [], [])
    with pytest.raises(InputError, match="same length"):
        km_curve([1.0, 2.0], [1])
    with pytest.raises(InputError, match="0 .censored. or 1"):
        km_curve([1.0, 2.0], [1, 2])
    assert hazard_ratios(t, np.zeros(t.size), t > 10).empty


def test_number_at_risk_counts():
    df = number_at_risk([1, 2, 3, 4], ["a", "a", "b", "b"], [0, 2, 3.5])
    assert df.loc["a"].tolist() == [2, 1, 0] and df.loc["b"].tolist() == [2, 2, 1]


def test_schemes_listed():
    assert SCHEMES == ("median", "tertiles", "quartiles", "cutoff")
