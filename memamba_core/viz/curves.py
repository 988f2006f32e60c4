"""Predicted (discrete-time) survival curves and training curves.

A model with K time bins predicts S_k = P(survive past bin k), k = 1..K. Bin k
ends at ``cuts[k-1]`` months (``cuts (K-1,)`` are the interior bin edges, see
:mod:`memamba_core.survival.discrete`); the last bin is open, drawn up to
``t_end``. The curve is a step function starting at S(0) = 1.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .text import plain_label

__all__ = ["step_points", "survival_curve_figure", "training_curves_figure"]


def step_points(cuts, survival, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the step curve: ``x = [0, c_1, …, c_{K-1}, t_end]``, ``y = [1, S_1, …, S_K]`` — (K+1,) each.

    Plot with ``line_shape="hv"``: the survival holds at 1 until the end of bin
    1, etc. ``survival (K,)``.
    """
    c = np.asarray(cuts, dtype=float).reshape(-1)
    s = np.asarray(survival, dtype=float).reshape(-1)
    if s.size != c.size + 1:
        raise ValueError(f"survival has {s.size} bins but cuts give {c.size + 1}")
    end = max(float(t_end), float(c.max()) * 1.1 if c.size else 1.0)
    x = np.concatenate([[0.0], c, [end]])
    y = np.concatenate([[1.0], s])
    return x, y


def survival_curve_figure(cuts, patient_survival, cohort_survival=None, t_end: float | None = None,
                          patient_label: str = "This patient") -> go.Figure:
    """This patient's predicted survival against the cohort (mean and 25–75 % band).

    ``patient_survival (K,)``; ``cohort_survival (n, K)`` for the comparison
    patients (optional); ``t_end`` months for the open last bin (default 1.25 ×
    the last cut).
    """
    c = np.asarray(cuts, dtype=float).reshape(-1)
    end = float(t_end) if t_end else (float(c.max()) * 1.25 if c.size else 1.0)
    fig = go.Figure()
    if cohort_survival is not None and len(cohort_survival):
        cs = np.asarray(cohort_survival, dtype=float)
        lo, hi = np.quantile(cs, [0.25, 0.75], axis=0)
        x, ylo = step_points(c, lo, end)
        _, yhi = step_points(c, hi, end)
        fig.add_trace(go.Scatter(x=x, y=yhi, mode="lines", line=dict(width=0, shape="hv"), hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=x, y=ylo, mode="lines", line=dict(width=0, shape="hv"), fill="tonexty",
                                 fillcolor="rgba(120,120,120,0.2)", name="cohort 25–75 %", hoverinfo="skip"))
        _, ym = step_points(c, cs.mean(axis=0), end)
        fig.add_trace(go.Scatter(x=x, y=ym, mode="lines", line=dict(color="#555", dash="dash", shape="hv"),
                                 name=f"cohort mean (n={cs.shape[0]})", hovertemplate="%{x:.1f} mo: S = %{y:.2f}<extra>cohort</extra>"))
    x, y = step_points(c, patient_survival, end)
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", line=dict(color="#b2182b", width=3, shape="hv"),
                             name=patient_label, hovertemplate="%{x:.1f} mo: S = %{y:.2f}<extra></extra>"))
    fig.update_layout(title=dict(text="Predicted survival", font=dict(size=14)), template="plotly_white",
                      xaxis_title="Time (months)", yaxis=dict(range=[0, 1.02], title="Survival probability"),
                      height=360, margin=dict(l=50, r=10, t=40, b=40), legend=dict(x=0.99, xanchor="right", y=0.99))
    return fig


def training_curves_figure(records: list[dict], x: str = "epoch", loss_keys=("loss",),
                           score_keys=("val_c_index", "inner_c_index", "train_c_index")) -> go.Figure:
    """Loss and C-index per epoch, one line per fold, from the run's progress records (:func:`memamba_core.runs.read_progress`).

    Records without ``x`` are skipped; keys absent from every record are not drawn.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "C-index"))
    rows = [r for r in records if x in r]
    folds = sorted({r.get("fold", 0) for r in rows}, key=str)
    for col, keys in ((1, loss_keys), (2, score_keys)):
        for key in keys:
            for f in folds:
                pts = [(r[x], r[key]) for r in rows if r.get("fold", 0) == f and r.get(key) is not None]
                if not pts:
                    continue
                xs, ys = zip(*pts)
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=plain_label(f"fold {f} {key}"),
                                         line=dict(dash="dot" if key.startswith("train") else None)),
                              row=1, col=col)
    fig.update_xaxes(title_text=x)
    fig.update_layout(template="plotly_white", height=360, margin=dict(l=40, r=10, t=40, b=40))
    return fig
