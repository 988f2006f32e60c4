"""Kaplan–Meier figure: curves with 95 % bands, censor marks and a number-at-risk table.

Input is a :class:`memamba_core.survival.km.KMResult`; nothing is estimated here.
:func:`km_figure` returns an interactive Plotly figure (table under the plot in
the same figure, sharing the time axis); :func:`km_png` renders the same
result with matplotlib for a static PNG download.
"""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..survival.km import KMResult

__all__ = ["GROUP_COLOURS", "km_figure", "km_png", "format_p"]

#: Colours of risk groups, low → high risk (colour-blind safe).
GROUP_COLOURS = ("#1b7837", "#2166ac", "#e08214", "#b2182b")


def _colours(n: int) -> list[str]:
    """Low → high risk colours for ``n`` groups (green…red, with blue/orange in between)."""
    if n == 1:
        return ["#2166ac"]
    if n == 2:
        return [GROUP_COLOURS[0], GROUP_COLOURS[3]]
    if n == 3:
        return [GROUP_COLOURS[0], GROUP_COLOURS[2], GROUP_COLOURS[3]]
    return list(GROUP_COLOURS[:n])


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def format_p(p: float) -> str:
    """A p-value as people write it: ``p = 0.031``, ``p < 0.001``, ``p = n/a``."""
    if p is None or not np.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def km_figure(result: KMResult, title: str | None = None, time_unit: str = "months") -> go.Figure:
    """Plotly KM figure of ``result``.

    Row 1: one step curve per group with its 95 % band (filled) and censor
    marks (``+``); the legend carries each group's n and median survival.
    Row 2: the number-at-risk table (one text row per group) at
    ``result.at_risk.columns``. The log-rank p goes in the title.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22], vertical_spacing=0.06)
    colours = _colours(len(result.curves))
    for c, col in zip(result.curves, colours):
        med = "not reached" if not np.isfinite(c.median) else f"{c.median:.1f}"
        name = f"{c.label} (n={c.n}, median {med})"
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([c.timeline, c.timeline[::-1]]),
                y=np.concatenate([c.upper, c.lower[::-1]]),
                mode="lines", fill="toself", fillcolor=_rgba(col, 0.15), line=dict(width=0, shape="hv"),
                hoverinfo="skip", showlegend=False, legendgroup=c.label, name=f"{c.label} 95% CI",
            ),
            row=1, col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=c.timeline, y=c.survival, mode="lines", line=dict(color=col, width=2.5, shape="hv"),
                name=name, legendgroup=c.label,
                hovertemplate=f"{c.label}<br>%{{x:.1f}} {time_unit}: S = %{{y:.2f}}<extra></extra>",
            ),
            row=1, col=1,
        )
        if c.censor_times.size:
            fig.add_trace(
                go.Scatter(
                    x=c.censor_times, y=c.censor_survival, mode="markers",
                    marker=dict(symbol="line-ns-open", size=9, color=col, line=dict(width=1.5, color=col)),
                    name=f"{c.label} censored", legendgroup=c.label, showlegend=False,
                    hovertemplate=f"censored at %{{x:.1f}} {time_unit}<extra>{c.label}</extra>",
                ),
                row=1, col=1,
            )
    at = result.at_risk
    labels = list(at.index)
    for i, (lab, col) in enumerate(zip(labels, colours)):
        fig.add_trace(
            go.Scatter(
                x=list(at.columns), y=[len(labels) - 1 - i] * at.shape[1], mode="text",
                text=[str(v) for v in at.loc[lab].to_numpy()], textfont=dict(color=col, size=12),
                showlegend=False, hoverinfo="skip", name=f"at risk {lab}",
            ),
            row=2, col=1,
        )
    fig.update_yaxes(range=[0, 1.02], title_text="Survival probability", row=1, col=1)
    fig.update_yaxes(
        tickvals=list(range(len(labels))), ticktext=labels[::-1], range=[-0.6, len(labels) - 0.4],
        showgrid=False, zeroline=False, title_text="At risk", row=2, col=1,
    )
    x_max = float(max(at.columns.max(), max(c.timeline.max() for c in result.curves))) if result.curves else 1.0
    fig.update_xaxes(range=[0, x_max * 1.02], row=1, col=1)
    fig.update_xaxes(title_text=f"Time ({time_unit})", tickvals=list(at.columns), row=2, col=1)
    head = title or "Kaplan–Meier by predicted risk"
    fig.update_layout(
        title=dict(text=f"{head} — log-rank {format_p(result.logrank_p)}"),
        template="plotly_white", height=560, margin=dict(l=60, r=20, t=60, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0),
        hovermode="closest",
    )
    return fig


def km_png(result: KMResult, title: str | None = None, time_unit: str = "months", dpi: int = 150) -> bytes:
    """The same KM plot (bands, censor marks, at-risk table) rendered with matplotlib, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 6), dpi=dpi)
    gs = fig.add_gridspec(2, 1, height_ratios=[4, 1], hspace=0.08)
    ax = fig.add_subplot(gs[0])
    tab = fig.add_subplot(gs[1], sharex=ax)
    colours = _colours(len(result.curves))
    for c, col in zip(result.curves, colours):
        med = "not reached" if not np.isfinite(c.median) else f"{c.median:.1f}"
        ax.step(c.timeline, c.survival, where="post", color=col, lw=2, label=f"{c.label} (n={c.n}, median {med})")
        ax.fill_between(c.timeline, c.lower, c.upper, step="post", color=col, alpha=0.15, lw=0)
        ax.plot(c.censor_times, c.censor_survival, "|", color=col, ms=8, mew=1.5)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("Survival probability")
    ax.set_title(f"{title or 'Kaplan–Meier by predicted risk'} — log-rank {format_p(result.logrank_p)}", fontsize=10)
    ax.legend(fontsize=8, loc="best", frameon=False)
    ax.grid(alpha=0.3)
    ax.tick_params(labelbottom=False)
    at = result.at_risk
    labels = list(at.index)
    for i, (lab, col) in enumerate(zip(labels, colours)):
        y = len(labels) - 1 - i
        for x, v in zip(at.columns, at.loc[lab].to_numpy()):
            tab.text(x, y, str(v), ha="center", va="center", color=col, fontsize=8)
    tab.set_yticks(range(len(labels)), labels[::-1], fontsize=8)
    tab.set_ylim(-0.6, len(labels) - 0.4)
    tab.set_xticks(list(at.columns))
    tab.set_xlabel(f"Time ({time_unit})")
    for side in ("top", "right", "left"):
        tab.spines[side].set_visible(False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()
