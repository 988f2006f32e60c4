"""Added value over clinical variables: the multivariable Cox table equals lifelines fitted independently."""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from memamba_core.errors import InputError
from memamba_core.survival.cox import MODEL_TERM, added_value, clinical_columns


def clinical_frame(n=240, seed=0):
    rng = np.random.default_rng(seed)
    age = rng.integers(40, 85, n).astype(float)
    female = rng.integers(0, 2, n)
    stage = rng.choice(["Stage I", "Stage II", "Stage III", "Stage IV"], n, p=[0.2, 0.35, 0.3, 0.15]).astype(object)
    eta = 0.03 * (age - 60) + 0.8 * (stage == "Stage IV") + rng.normal(size=n) * 0.5
    score = eta + rng.normal(size=n) * 0.5 + 1.0 * rng.normal(size=n)
    t_ev = rng.exponential(30 * np.exp(-eta)); c = rng.uniform(0, 100, n)
    df = pd.DataFrame({"survival_months": np.minimum(t_ev, c), "event": (t_ev <= c).astype(int), "score": score,
                       "age": age, "is_female": female, "ajcc_pathologic_stage": stage, "site": rng.choice(list("ABCDEFG"), n)})
    df.loc[[3, 17, 40], "ajcc_pathologic_stage"] = None
    df.loc[[5], "age"] = np.nan
    return df


def test_table_matches_lifelines_fitted_independently():
    df = clinical_frame()
    res = added_value(df)
    cc = df.dropna(subset=["age", "ajcc_pathologic_stage"])
    ref_level = cc["ajcc_pathologic_stage"].value_counts().index[0]
    X = pd.DataFrame({"duration": cc.survival_months, "event": cc.event,
                      "s": (cc.score - cc.score.mean()) / cc.score.std(ddof=0), "age10": cc.age / 10, "female": cc.is_female})
    for lev in sorted(set(cc.ajcc_pathologic_stage) - {ref_level}):
        X[lev] = (cc.ajcc_pathologic_stage == lev).astype(float)
    want = CoxPHFitter().fit(X, "duration", "event").summary
    got = res.table
    assert got.loc[MODEL_TERM, "hr"] == pytest.approx(want.loc["s", "exp(coef)"], rel=1e-5)
    assert got.loc[MODEL_TERM, "p"] == pytest.approx(want.loc["s", "p"], rel=1e-4)
    assert got.loc["age (per 10 years)", "hr"] == pytest.approx(want.loc["age10", "exp(coef)"], rel=1e-5)
    assert got.loc["female (vs male)", "lower"] == pytest.approx(want.loc["female", "exp(coef) lower 95%"], rel=1e-5)
    for lev in sorted(set(cc.ajcc_pathologic_stage) - {ref_level}):
        row = got.loc[f"ajcc_pathologic_stage = {lev} (vs {ref_level})"]
        assert row["hr"] == pytest.approx(want.loc[lev, "exp(coef)"], rel=1e-5)
        assert row["upper"] == pytest.approx(want.loc[lev, "exp(coef) upper 95%"], rel=1e-5)
    assert res.n == len(cc) == len(df) - 4
    assert "site" not in res.variables  # a hospital code, not a patient characteristic
    assert any("4 patient(s) with a missing clinical value left out" in n for n in res.notes)


def test_added_value_test():
    res = added_value(clinical_frame(n=400))
    assert res.lr_p < 0.05 and res.c_full > res.c_clinical
    noise = clinical_frame(n=400)
    noise["score"] = np.random.default_rng(9).normal(size=400)
    assert added_value(noise).lr_p > 0.01


def test_clinical_columns_and_rare_levels():
    df = clinical_frame()
    assert clinical_columns(df) == ["age", "is_female", "ajcc_pathologic_stage"]
    df.loc[:3, "ajcc_pathologic_stage"] = "Stage X"  # 4 patients: rare
    res = added_value(df, min_level=5)
    assert any("pooled as 'other'" in n for n in res.notes)
    assert not any("Stage X" in t for t in res.table.index)


def test_cohort_without_clinical_variables_is_a_clear_message():
    df = clinical_frame()[["survival_months", "event", "score", "site"]]
    with pytest.raises(InputError, match="no clinical variables .* add them to the label CSV"):
        added_value(df)
    one = clinical_frame().assign(is_female=1)[["survival_months", "event", "score", "is_female"]]
    with pytest.raises(InputError, match="none of the cohort's clinical variables is usable"):
        added_value(one)
    with pytest.raises(InputError, match="lacks column 'score'"):
        added_value(clinical_frame().drop(columns="score"))
