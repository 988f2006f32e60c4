"""Figure builders of the calibration views, the forest plot and the patient prediction."""

import numpy as np
import plotly.graph_objects as go
import pytest

from memamba_core.survival.km import km_curve
from memamba_core.survival.clinical_terms import predict_one_model
from memamba_core.survival.cox import MODEL_TERM, added_value
from memamba_core.survival.quality import brier_vs_null, calibration_table, discrimination, td_auc
from memamba_core.viz.calibration import brier_figure, c_index_figure, calibration_figure, ibs_gain_figure, td_auc_figure
from memamba_core.viz.forest import forest_figure
from memamba_core.viz.prediction import prediction_figure
from memamba_core.viz.text import plain_label
from tests.test_cox import clinical_frame
from tests.test_quality import oof_run


@pytest.fixture(scope="module")
def oof():
    return oof_run()[0]


def test_calibration_figure_one_panel_per_horizon(oof):
    tab = calibration_table(oof, [12, 36])
    fig = calibration_figure(tab)
    assert isinstance(fig, go.Figure)
    pts = [t for t in fig.data if t.mode == "markers+text"]
    assert len(pts) == 2 and list(pts[0].x) == list(tab[tab.horizon == 12].sort_values("group").predicted)
    assert [a.text for a in fig.layout.annotations] == ["12 months", "36 months"]
    np.testing.assert_allclose(pts[1].error_y.arrayminus, (tab[tab.horizon == 36].observed - tab[tab.horizon == 36].lower).to_numpy())


def test_brier_td_auc_and_c_index_figures(oof):
    tab = brier_vs_null(oof)
    fig = brier_figure(tab)
    assert [t.name for t in fig.data] == ["model (calibrated)", "Kaplan–Meier null"]
    assert list(fig.data[0].x)[-1] == "mean" and fig.data[1].y[-1] == pytest.approx(tab.loc["mean", "ibs_km"])
    fig = ibs_gain_figure(tab)
    pts = fig.data[0]
    assert list(pts.y) == ["fold 0", "fold 1", "fold 2", "fold 3", "fold 4", "mean"]
    np.testing.assert_allclose(pts.x, tab["ibs_gain"])
    np.testing.assert_allclose(np.asarray(pts.x) + np.asarray(pts.error_x.array), tab["ibs_gain_high"])
    np.testing.assert_allclose(np.asarray(pts.x) - np.asarray(pts.error_x.arrayminus), tab["ibs_gain_low"])
    assert [c[2] for c in pts.customdata] == list(tab["vs_km"])
    times, auc, mean = td_auc(oof)
    fig = td_auc_figure(times, auc, mean)
    assert list(fig.data[0].y) == list(auc) and f"{mean:.3f}" in fig.layout.title.text
    est = discrimination(oof, n_boot=50)
    fig = c_index_figure(tab.drop(index="mean")["c_index"], est)
    assert fig.data[1].x[0] == pytest.approx(est.value) and fig.data[1].error_x.array[0] == pytest.approx(est.high - est.value)


def test_forest_figure_escapes_user_labels():
    df = clinical_frame()
    df["ajcc_pathologic_stage"] = df["ajcc_pathologic_stage"].replace("Stage IV", "<b>IV</b>")
    res = added_value(df)
    fig = forest_figure(res)
    labels = list(fig.data[0].y)
    assert labels[-1] == MODEL_TERM  # the model's score on top
    assert not any("<b>" in y for y in labels) and any("&lt;b&gt;IV&lt;/b&gt;" in y for y in labels)
    assert list(fig.data[0].x)[::-1] == list(res.table["hr"])
    assert plain_label("a & <i>") == "a &amp; &lt;i&gt;"


def test_prediction_figure(oof):
    cal = oof.maps[0]
    pred = predict_one_model(cal, 0.5, scored_by="x", fold=0, n_boot=30)
    fig = prediction_figure(pred, km_curve(oof.times, oof.events))
    names = [t.name for t in fig.data]
    assert "this patient" in names and pred.interval_kind in names and any("cohort Kaplan–Meier" in str(n) for n in names)
    marks = next(t for t in fig.data if t.name == "at the horizons")
    assert list(marks.x) == sorted(pred.horizons)
