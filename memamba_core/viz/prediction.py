"""One patient's calibrated survival (:class:`memamba_core.survival.clinical_terms.ClinicalPrediction`) as a figure."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..survival.clinical_terms import ClinicalPrediction
from ..survival.km import KMCurve

__all__ = ["prediction_figure"]


def prediction_figure(pred: ClinicalPrediction, cohort: KMCurve | None = None, title: str = "Predicted survival") -> go.Figure:
    """The monthly curve with its band, the cohort's Kaplan–Meier curve (optional), the horizons with their intervals
    and the median where reached. The band's kind is said in the legend."""
    fig = go.Figure()
    m = pred.months
    fig.add_trace(go.Scatter(x=m, y=pred.upper, mode="lines", line=dict(width=0, shape="hv"), hoverinfo="skip", showlegend=False))
    fig.add_trace(go.Scatter(x=m, y=pred.lower, mode="lines", line=dict(width=0, shape="hv"), fill="tonexty",
                             fillcolor="rgba(178,24,43,0.18)", name=pred.interval_kind, hoverinfo="skip"))
    if cohort is not None:
        keep = cohort.timeline <= m[-1]
        fig.add_trace(go.Scatter(x=cohort.timeline[keep], y=cohort.survival[keep], mode="lines",
                                 line=dict(color="#555", dash="dash", shape="hv"), name=f"cohort Kaplan–Meier (n={cohort.n})",
                                 hovertemplate="%{x:.1f} months: %{y:.2f}<extra>cohort</extra>"))
    fig.add_trace(go.Scatter(x=m, y=pred.survival, mode="lines", line=dict(color="#b2182b", width=3, shape="hv"),
                             name="this patient", hovertemplate="%{x:.0f} months: %{y:.2f}<extra></extra>"))
    hz = sorted(pred.horizons)
    iv = [pred.horizons[h] for h in hz]
    fig.add_trace(go.Scatter(
        x=hz, y=[i.value for i in iv], mode="markers+text", marker=dict(color="#b2182b", size=10),
        error_y=dict(type="data", symmetric=False, array=[i.high - i.value for i in iv], arrayminus=[i.value - i.low for i in iv]),
        text=[f"{i.value:.0%}" for i in iv], textposition="top right", name="at the horizons",
        hovertemplate="%{x:g} months: %{y:.2f}<extra></extra>",
    ))
    if pred.median is not None:
        fig.add_vline(x=pred.median.value, line=dict(color="#b2182b", dash="dot"),
                      annotation_text=f"median {pred.median.value:.0f} mo", annotation_position="top right")
    fig.update_layout(title=dict(text=title, font=dict(size=14)), template="plotly_white", xaxis_title="Time (months)",
                      yaxis=dict(range=[0, 1.02], title="Survival probability"), height=380,
                      legend=dict(orientation="h", y=-0.22), margin=dict(l=10, r=10, t=50, b=40))
    return fig
