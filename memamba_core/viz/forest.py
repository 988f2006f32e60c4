"""Forest plot of a multivariable Cox model (:class:`memamba_core.survival.cox.CoxTable`)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..survival.cox import MODEL_TERM, CoxTable
from .km import format_p
from .text import plain_label

__all__ = ["forest_figure"]


def forest_figure(res: CoxTable) -> go.Figure:
    """Hazard ratio with 95 % CI per term on a log axis (the model's score first, in red), p-values as labels."""
    t = res.table.iloc[::-1]
    labels = [plain_label(i) for i in t.index]
    colours = ["#b2182b" if i == MODEL_TERM else "#2166ac" for i in t.index]
    fig = go.Figure()
    fig.add_vline(x=1.0, line=dict(color="#bbb", dash="dot"))
    fig.add_trace(go.Scatter(
        x=t["hr"], y=labels, mode="markers+text", marker=dict(color=colours, size=10, symbol="square"),
        error_x=dict(type="data", symmetric=False, array=t["upper"] - t["hr"], arrayminus=t["hr"] - t["lower"], color="#444"),
        text=[format_p(p) for p in t["p"]], textposition="top center", showlegend=False,
        hovertemplate="%{y}: HR %{x:.2f}<extra></extra>",
    ))
    lo, hi = float(np.nanmin(t["lower"])), float(np.nanmax(t["upper"]))
    fig.update_layout(
        title=dict(text=f"Multivariable Cox: n = {res.n}, {res.events} events; model adds {format_p(res.lr_p)} (LR test), "
                        f"C {res.c_clinical:.3f} → {res.c_full:.3f}", font=dict(size=13)),
        template="plotly_white", xaxis=dict(type="log", title="hazard ratio (95 % CI)", range=[np.log10(min(lo, 0.9) / 1.2), np.log10(max(hi, 1.1) * 1.2)]),
        height=120 + 40 * len(labels), margin=dict(l=10, r=10, t=60, b=40),
    )
    return fig
