"""The optimal-transport plan between patches and genomic groups, as figures.

``plan (N, G)``: row i is patch i's unit mass spread over the G genomic tokens
(one-hot for the hard plan, soft for Sinkhorn). For large N the matrix view
aggregates: patches are ordered by the group they send most mass to (then by
that mass) and consecutive patches are averaged into at most ``max_rows`` rows.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .text import plain_label

__all__ = ["group_legend_figure", "GROUP_PALETTE", "group_colours", "dominant_group", "aggregate_plan", "mass_per_group",
           "transport_matrix_figure", "mass_figure"]

#: Qualitative palette for genomic groups (Plotly's "Safe" + "Bold", colour-blind friendly first).
GROUP_PALETTE = (
    "#88CCEE", "#CC6677", "#DDCC77", "#117733", "#332288", "#AA4499", "#44AA99", "#999933",
    "#882255", "#661100", "#6699CC", "#888888", "#7F3C8D", "#11A579", "#3969AC", "#F2B701",
)


def group_colours(n_groups: int) -> np.ndarray:
    """(G, 3) RGB in [0, 1], cycling :data:`GROUP_PALETTE`."""
    hexes = [GROUP_PALETTE[i % len(GROUP_PALETTE)].lstrip("#") for i in range(n_groups)]
    return np.array([[int(h[j : j + 2], 16) / 255 for j in (0, 2, 4)] for h in hexes])


def dominant_group(plan) -> np.ndarray:
    """(N,) index of the group each patch sends most mass to."""
    return np.asarray(plan, dtype=float).argmax(axis=1)


def mass_per_group(plan) -> np.ndarray:
    """(G,) share of the total patch mass each group receives (sums to 1)."""
    p = np.asarray(plan, dtype=float)
    tot = p.sum()
    return p.sum(axis=0) / tot if tot > 0 else np.zeros(p.shape[1])


def aggregate_plan(plan, max_rows: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order patches by dominant group and mass, then average into ≤ ``max_rows`` rows.

    Returns ``(matrix (R, G), row_start (R,), order (N,))``: row r averages
    patches ``order[row_start[r]:row_start[r+1]]``.
    """
    p = np.asarray(plan, dtype=float)
    n = p.shape[0]
    dom = p.argmax(axis=1)
    order = np.lexsort((-p[np.arange(n), dom], dom))
    sorted_p = p[order]
    rows = min(max_rows, n)
    starts = np.linspace(0, n, rows + 1).astype(int)[:-1]
    mat = np.add.reduceat(sorted_p, starts, axis=0) / np.diff(np.append(starts, n))[:, None]
    return mat, starts, order


def transport_matrix_figure(plan, group_names, max_rows: int = 200, highlight: int | None = None) -> go.Figure:
    """Heatmap of the plan: rows = patches (ordered, aggregated), columns = genomic groups."""
    mat, starts, _ = aggregate_plan(plan, max_rows)
    n = np.asarray(plan).shape[0]
    ends = np.append(starts[1:], n) - 1
    ylab = [f"patches {a}–{b}" if b > a else f"patch {a}" for a, b in zip(starts, ends)]
    fig = go.Figure(
        go.Heatmap(
            z=mat, x=[plain_label(g) for g in group_names], y=list(range(mat.shape[0])), colorscale="Blues", zmin=0, zmax=1,
            customdata=np.array(ylab)[:, None].repeat(mat.shape[1], 1),
            hovertemplate="%{customdata} → %{x}<br>mean mass %{z:.3f}<extra></extra>",
            colorbar=dict(title="mass", thickness=12),
        )
    )
    if highlight is not None:
        fig.add_vrect(x0=highlight - 0.5, x1=highlight + 0.5, line=dict(color="#d62728", width=3), fillcolor="rgba(0,0,0,0)")
    agg = "" if mat.shape[0] == n else f" (N={n} patches averaged into {mat.shape[0]} rows, ordered by group)"
    fig.update_yaxes(autorange="reversed", showticklabels=False, title_text="patches")
    fig.update_layout(title=dict(text=f"Transport plan{agg}", font=dict(size=14)), template="plotly_white",
                      height=480, margin=dict(l=40, r=10, t=50, b=80))
    return fig


def mass_figure(plan, group_names, highlight: int | None = None) -> go.Figure:
    """Bar chart: share of patch mass per genomic group, and number of patches dominated by it."""
    p = np.asarray(plan, dtype=float)
    m = mass_per_group(p)
    counts = np.bincount(dominant_group(p), minlength=p.shape[1])
    cols = ["#%02x%02x%02x" % tuple(int(v * 255) for v in c) for c in group_colours(p.shape[1])]
    line = [3 if highlight == i else 0 for i in range(p.shape[1])]
    fig = go.Figure(
        go.Bar(x=[plain_label(g) for g in group_names], y=m, marker=dict(color=cols, line=dict(width=line, color="#d62728")),
               customdata=counts, hovertemplate="%{x}<br>%{y:.1%} of mass · %{customdata} patches<extra></extra>")
    )
    fig.update_layout(title=dict(text="Patch mass per genomic group", font=dict(size=14)), template="plotly_white",
                      yaxis=dict(tickformat=".0%", title="share of mass"), height=320, margin=dict(l=40, r=10, t=50, b=80))
    return fig


def group_legend_figure(group_names, highlight: int | None = None) -> go.Figure:
    """The colour of each genomic group on the slide map, as a figure (names shown literally, never as HTML)."""
    names = [plain_label(g) for g in group_names]
    cols = ["#%02x%02x%02x" % tuple(int(v * 255) for v in c) for c in group_colours(len(names))]
    per_row = 4
    x = [i % per_row for i in range(len(names))]
    y = [-(i // per_row) for i in range(len(names))]
    size = [18 if highlight == i else 12 for i in range(len(names))]
    fig = go.Figure(go.Scatter(x=x, y=y, mode="markers+text", text=names, textposition="middle right",
                               marker=dict(symbol="square", size=size, color=cols), hoverinfo="text",
                               cliponaxis=False))
    fig.update_xaxes(visible=False, range=[-0.2, per_row])
    fig.update_yaxes(visible=False, range=[min(y, default=0) - 0.6, 0.6])
    fig.update_layout(template="plotly_white", showlegend=False, height=40 + 26 * (1 + (len(names) - 1) // per_row),
                      margin=dict(l=0, r=0, t=4, b=4))
    return fig
