"""Survival metrics against scikit-survival and lifelines directly, and their input checks."""

import numpy as np
import pytest
from lifelines.utils import concordance_index as lifelines_cindex
from sksurv.metrics import concordance_index_ipcw, cumulative_dynamic_auc, integrated_brier_score
from sksurv.util import Surv

from memamba_core.errors import InputError
from memamba_core.survival.metrics import (
    c_index_ci,
    concordance,
    integrated_brier,
    ipcw_c_index,
    survival_at,
    time_dependent_auc,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    n = 120
    risk = rng.normal(size=n)
    t = rng.exponential(np.exp(-risk)) * 30 + 0.5
    c = rng.exponential(40, size=n) + 0.5
    times = np.minimum(t, c)
    events = (t <= c).astype(int)
    return times, events, risk


def curves_from_risk(risk, k=4):
    h = 1 / (1 + np.exp(-(risk[:, None] + np.linspace(-2, 0.5, k)[None])))
    return np.cumprod(1 - h, axis=1)


def test_concordance_matches_lifelines(data):
    times, events, risk = data
    # lifelines scores "higher = longer survival": pass -risk
    assert concordance(times, events, risk) == pytest.approx(lifelines_cindex(times, -risk, events), abs=1e-9)


def test_concordance_known_small_case():
    # comparable pairs: (0,1), (0,2), (0,3), (1,2), (1,3), (3?) ; perfect ordering gives 1
    assert concordance([1, 2, 3, 4], [1, 1, 0, 1], [4, 3, 2, 1]) == 1.0
    assert concordance([1, 2, 3, 4], [1, 1, 0, 1], [1, 2, 3, 4]) == 0.0
    assert concordance([1, 2, 3, 4], [1, 1, 0, 1], [1, 1, 1, 1]) == 0.5


@pytest.mark.parametrize(
    "times, events, risk, match",
    [
        ([1, 2, 3], [0, 0, 0], [1, 2, 3], "All samples are censored"),
        ([1, 2], [1, 0, 1], [1, 2], "times has 2 values but events has 3"),
        ([1, np.nan, 3], [1, 0, 1], [1, 2, 3], "missing or infinite"),
        ([1, -2, 3], [1, 0, 1], [1, 2, 3], "negative"),
        ([1, 2, 3], [1, 2, 0], [1, 2, 3], "0 \\(censored\\) or 1"),
        ([1, 2, 3], [1, 0, 1], [1, 2], "one score per patient"),
        ([1, 2, 3], [1, 0, 1], [1, np.nan, 3], "risk has 1 missing"),
        ([2, 2, 2], [1, 1, 1], [1, 2, 3], "No comparable pairs"),
    ],
)
def test_concordance_rejects_bad_input(times, events, risk, match):
    with pytest.raises(InputError, match=match):
        concordance(times, events, risk)


def test_ipcw_matches_sksurv(data):
    times, events, risk = data
    tr, te = slice(0, 80), slice(80, None)
    tau = float(np.quantile(times[te], 0.8))
    ours = ipcw_c_index(times[tr], events[tr], times[te], events[te], risk[te], tau=tau)
    ref = concordance_index_ipcw(
        Surv.from_arrays(events[tr].astype(bool), times[tr]), Surv.from_arrays(events[te].astype(bool), times[te]), risk[te], tau=tau
    )[0]
    assert ours == pytest.approx(ref)
    assert 0.5 < ours <= 1.0  # the risk is informative by construction


def test_ipcw_default_tau_and_errors(data):
    times, events, risk = data
    assert 0 < ipcw_c_index(times, events, times, events, risk) <= 1
    with pytest.raises(InputError, match="All samples are censored"):
        ipcw_c_index(times, np.zeros_like(events), times, events, risk)
    with pytest.raises(InputError, match="tau must be a positive"):
        ipcw_c_index(times, events, times, events, risk, tau=-1.0)


def test_survival_at_step_convention():
    s = np.array([[0.9, 0.6, 0.3, 0.1]])
    cuts = np.array([10.0, 20.0, 30.0])
    got = survival_at(s, cuts, [5, 10, 15, 20, 29.9, 30, 100])
    np.testing.assert_allclose(got[0], [1.0, 0.9, 0.9, 0.6, 0.6, 0.3, 0.3])


def test_integrated_brier_matches_sksurv(data):
    times, events, risk = data
    s = curves_from_risk(risk)
    cuts = np.quantile(times[events == 1], [0.25, 0.5, 0.75])
    grid = np.linspace(times.min() + 0.1, np.quantile(times, 0.9), 20)
    ours = integrated_brier(times, events, times, events, s, cuts, eval_times=grid)
    y = Surv.from_arrays(events.astype(bool), times)
    ref = integrated_brier_score(y, y, survival_at(s, cuts, grid), grid)
    assert ours == pytest.approx(ref)
    assert 0 < integrated_brier(times, events, times, events, s, cuts) < 0.25 + 0.1


def test_integrated_brier_rejects_bad_curves(data):
    times, events, risk = data
    s = curves_from_risk(risk)
    cuts = [1.0, 2.0, 3.0]
    with pytest.raises(InputError, match="non-increasing"):
        integrated_brier(times, events, times, events, s[:, ::-1], cuts)
    with pytest.raises(InputError, match="K-1 = 3 inner cut-points"):
        integrated_brier(times, events, times, events, s, [1.0, 2.0])
    with pytest.raises(InputError, match="evaluation times must lie"):
        integrated_brier(times, events, times, events, s, cuts, eval_times=[0.0, times.max() + 1])


def test_time_dependent_auc_at_cuts_matches_sksurv(data):
    times, events, risk = data
    s = curves_from_risk(risk)
    cuts = np.quantile(times[events == 1], [0.25, 0.5, 0.75])
    grid, auc, mean_auc = time_dependent_auc(times, events, times, events, s, cuts)
    np.testing.assert_allclose(grid, cuts)
    y = Surv.from_arrays(events.astype(bool), times)
    ref_auc, ref_mean = cumulative_dynamic_auc(y, y, 1 - survival_at(s, cuts, cuts), cuts)
    np.testing.assert_allclose(auc, ref_auc)
    assert mean_auc == pytest.approx(ref_mean)
    assert mean_auc > 0.6


def test_c_index_ci_seeded_and_covers(data):
    times, events, risk = data
    a = c_index_ci(times, events, risk, n_boot=200, seed=1)
    b = c_index_ci(times, events, risk, n_boot=200, seed=1)
    c = c_index_ci(times, events, risk, n_boot=200, seed=2)
    assert a == b
    assert a.low < a.value < a.high
    assert (a.low, a.high) != (c.low, c.high)
    assert a.n_boot == 200
    with pytest.raises(InputError, match="n_boot must be at least 10"):
        c_index_ci(times, events, risk, n_boot=3)
    with pytest.raises(InputError, match="level must be in"):
        c_index_ci(times, events, risk, n_boot=50, level=1.5)


def test_fast_pairwise_harrell_equals_sksurv_with_ties(data):
    from sksurv.metrics import concordance_index_censored

    from memamba_core.survival.metrics import _harrell

    times, events, risk = data
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(times), len(times))  # duplicates, as in a bootstrap resample
    t, e = np.round(times[idx]), events[idx].astype(bool)  # rounding makes tied times
    r = np.round(risk[idx], 1)  # and tied risks
    assert _harrell(t, e, r) == pytest.approx(concordance_index_censored(e, t, r)[0], abs=1e-12)
