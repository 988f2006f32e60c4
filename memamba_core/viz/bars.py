"""Small bar charts of the model's explanations: expert weights, genomic group contributions."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .text import plain_label

__all__ = ["expert_weights_figure", "contributions_figure"]


def expert_weights_figure(weights: dict[str, float]) -> go.Figure:
    """Horizontal bars of the head's weight per expert (``{"pathology": 0.3, …}``, summing to 1)."""
    names = list(weights)
    vals = np.array([float(weights[k]) for k in names])
    fig = go.Figure(go.Bar(x=vals, y=names, orientation="h", marker_color="#2b6cb0",
                           text=[f"{v:.0%}" for v in vals], textposition="auto",
                           hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig.update_layout(title=dict(text="Expert weights in the prediction", font=dict(size=14)), template="plotly_white",
                      xaxis=dict(range=[0, 1], tickformat=".0%"), height=60 + 45 * max(len(names), 1),
                      margin=dict(l=10, r=10, t=40, b=30))
    return fig


def contributions_figure(names, values, title: str = "Genomic group contributions", value_label: str = "share") -> go.Figure:
    """Bars of one value per genomic group (G,), largest on top; signed values coloured by sign."""
    v = np.asarray(values, dtype=float).reshape(-1)
    names = [plain_label(n) for n in names]
    order = np.argsort(v, kind="stable")
    colours = np.where(v[order] >= 0, "#b2182b", "#2166ac")
    fig = go.Figure(go.Bar(x=v[order], y=[names[i] for i in order], orientation="h", marker_color=colours,
                           hovertemplate="%{y}: %{x:.3g}<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=14)), template="plotly_white", xaxis_title=value_label,
                      height=80 + 28 * max(len(names), 1), margin=dict(l=10, r=10, t=40, b=40))
    return fig
