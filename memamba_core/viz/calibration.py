"""Figures of a run's out-of-fold calibration and discrimination (computed in :mod:`memamba_core.survival.quality`).

- :func:`calibration_figure` — predicted vs observed survival per risk group, one panel per horizon;
- :func:`td_auc_figure` — AUC(t) over time;
- :func:`brier_figure` — per fold, the integrated Brier score of the model beside the Kaplan–Meier null's;
- :func:`ibs_gain_figure` — per fold and the mean, how much lower the model's IBS is than the null's, with its bootstrap interval;
- :func:`c_index_figure` — per-fold C-index and the pooled one with its bootstrap CI.

Every builder takes the frames / arrays those functions return and returns a
``plotly.graph_objects.Figure``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..survival.metrics import Estimate

__all__ = ["calibration_figure", "td_auc_figure", "brier_figure", "ibs_gain_figure", "c_index_figure"]

_MODEL, _NULL = "#b2182b", "#777777"


def calibration_figure(table: pd.DataFrame) -> go.Figure:
    """One panel per horizon: each risk group's mean predicted survival (x) against its Kaplan–Meier survival (y, 95 % CI).

    ``table``: :func:`memamba_core.survival.quality.calibration_table`'s frame. The diagonal is perfect calibration.
    """
    horizons = sorted(table["horizon"].unique())
    fig = make_subplots(rows=1, cols=len(horizons), subplot_titles=[f"{h:g} months" for h in horizons], shared_yaxes=True)
    for i, h in enumerate(horizons, start=1):
        t = table[table["horizon"] == h].sort_values("group")
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#bbb", dash="dot"), showlegend=False,
                                 hoverinfo="skip"), row=1, col=i)
        fig.add_trace(go.Scatter(
            x=t["predicted"], y=t["observed"], mode="markers+text", text=[f"Q{g}" for g in t["group"]], textposition="top left",
            marker=dict(size=9, color=_MODEL),
            error_y=dict(type="data", symmetric=False, array=t["upper"] - t["observed"], arrayminus=t["observed"] - t["lower"]),
            customdata=np.stack([t["n"], t["events"]], axis=1), name="risk group", showlegend=i == 1,
            hovertemplate="predicted %{x:.2f}, observed %{y:.2f}<br>%{customdata[0]} patients, %{customdata[1]} events<extra></extra>",
        ), row=1, col=i)
        fig.update_xaxes(range=[0, 1.02], title_text="predicted survival", row=1, col=i)
    fig.update_yaxes(range=[0, 1.05], title_text="observed (Kaplan–Meier, 95 % CI)", row=1, col=1)
    fig.update_layout(title=dict(text="Calibration by risk group (out-of-fold; Q1 = lowest risk)", font=dict(size=14)),
                      template="plotly_white", height=380, margin=dict(l=10, r=10, t=60, b=40))
    return fig


def td_auc_figure(times, auc, mean_auc: float) -> go.Figure:
    """AUC(t) of the calibrated predictions over time (``times (T,)``, ``auc (T,)``), with 0.5 as chance."""
    fig = go.Figure()
    fig.add_hline(y=0.5, line=dict(color="#bbb", dash="dot"))
    fig.add_trace(go.Scatter(x=np.asarray(times), y=np.asarray(auc), mode="lines+markers", line=dict(color=_MODEL),
                             name="AUC(t)", hovertemplate="%{x:.1f} months: AUC %{y:.3f}<extra></extra>"))
    fig.update_layout(title=dict(text=f"Time-dependent AUC (out-of-fold; mean {mean_auc:.3f})", font=dict(size=14)),
                      template="plotly_white", xaxis_title="Time (months)", yaxis=dict(range=[0.3, 1.0], title="AUC(t)"),
                      height=340, margin=dict(l=10, r=10, t=50, b=40))
    return fig


def brier_figure(table: pd.DataFrame) -> go.Figure:
    """Per fold (and the mean), the integrated Brier score of the model and of the Kaplan–Meier null; lower is better.

    ``table``: :func:`memamba_core.survival.quality.brier_vs_null`'s frame.
    """
    labels = [str(i) if i == "mean" else f"fold {i}" for i in table.index]
    fig = go.Figure([
        go.Bar(x=labels, y=table["ibs_model"], name="model (calibrated)", marker_color=_MODEL,
               hovertemplate="%{x}: IBS %{y:.3f}<extra>model</extra>"),
        go.Bar(x=labels, y=table["ibs_km"], name="Kaplan–Meier null", marker_color=_NULL,
               hovertemplate="%{x}: IBS %{y:.3f}<extra>Kaplan–Meier</extra>"),
    ])
    fig.update_layout(barmode="group", title=dict(text="Integrated Brier score (out-of-fold; lower is better)", font=dict(size=14)),
                      template="plotly_white", yaxis_title="IBS", height=340, margin=dict(l=10, r=10, t=50, b=40))
    return fig


def ibs_gain_figure(table: pd.DataFrame, level: float = 0.95) -> go.Figure:
    """Per fold and the mean: the Kaplan–Meier null's IBS minus the model's (> 0: the model is better), with its interval.

    ``table``: :func:`memamba_core.survival.quality.brier_vs_null`'s frame (``ibs_gain``, ``ibs_gain_low``/``_high``,
    ``vs_km``); ``level``: the interval's level, for the labels.
    """
    labels = [str(i) if i == "mean" else f"fold {i}" for i in table.index]
    gain = table["ibs_gain"].to_numpy(float)
    lo, hi = table["ibs_gain_low"].to_numpy(float), table["ibs_gain_high"].to_numpy(float)
    colour = {"better": _MODEL, "worse": "#2166ac"}
    fig = go.Figure()
    fig.add_vline(x=0, line=dict(color="#bbb", dash="dot"))
    fig.add_trace(go.Scatter(
        x=gain, y=labels, mode="markers", marker=dict(size=10, color=[colour.get(v, _NULL) for v in table["vs_km"]],
                                                      symbol=["diamond" if i == "mean" else "circle" for i in table.index]),
        error_x=dict(type="data", symmetric=False, array=hi - gain, arrayminus=gain - lo, color="#555555"),
        customdata=np.stack([lo, hi, table["vs_km"].to_numpy(str)], axis=1), showlegend=False,
        hovertemplate="%{y}: KM − model %{x:+.3f} (%{customdata[0]:+.3f} to %{customdata[1]:+.3f}): %{customdata[2]}<extra></extra>",
    ))
    fig.update_layout(title=dict(text=f"IBS gain over Kaplan–Meier ({level:.0%} paired bootstrap; right of 0: model better)",
                                 font=dict(size=14)), template="plotly_white", xaxis_title="IBS of KM − IBS of the model",
                      yaxis=dict(autorange="reversed"), height=120 + 30 * len(labels), margin=dict(l=10, r=10, t=50, b=40))
    return fig


def c_index_figure(per_fold: pd.Series, pooled: Estimate) -> go.Figure:
    """Per-fold C-index (``per_fold``: fold → value) and the pooled out-of-fold C-index with its CI."""
    folds = [f"fold {k}" for k in per_fold.index]
    fig = go.Figure()
    fig.add_vline(x=0.5, line=dict(color="#bbb", dash="dot"))
    fig.add_trace(go.Scatter(x=per_fold.to_numpy(float), y=folds, mode="markers", marker=dict(color=_NULL, size=9), name="fold",
                             hovertemplate="%{y}: C %{x:.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[pooled.value], y=["pooled"], mode="markers", marker=dict(color=_MODEL, size=12, symbol="diamond"),
        error_x=dict(type="data", symmetric=False, array=[pooled.high - pooled.value], arrayminus=[pooled.value - pooled.low]),
        name=f"pooled ({pooled.level:.0%} CI)", hovertemplate=f"pooled: C %{{x:.3f}} ({pooled.low:.3f}–{pooled.high:.3f})<extra></extra>",
    ))
    fig.update_layout(title=dict(text="C-index (out-of-fold)", font=dict(size=14)), template="plotly_white",
                      xaxis=dict(range=[0.3, 1.0], title="Harrell's C"), height=120 + 30 * len(folds), margin=dict(l=10, r=10, t=50, b=40))
    return fig
