"""A one-page, self-contained HTML report for one patient (print it to PDF from the browser).

Everything is embedded (PNG as base64, no scripts, no network), so the file
can be archived or mailed as it is.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from PIL import Image

from .curves import step_points

__all__ = ["PatientReport", "survival_png", "report_html"]


@dataclass
class PatientReport:
    """What goes into the report. ``survival (K,)``, ``cuts (K-1,)``; images are PIL RGB."""

    case_id: str
    cohort: str
    model: str
    risk: float
    percentile: float                      # 0–100, share of cohort patients with lower risk
    survival: np.ndarray
    cuts: np.ndarray
    cohort_mean_survival: np.ndarray | None = None
    clinical: dict = field(default_factory=dict)
    expert_weights: dict = field(default_factory=dict)
    contributions: dict = field(default_factory=dict)   # genomic group → share
    heatmap: Image.Image | None = None
    heatmap_caption: str = ""
    patches: list = field(default_factory=list)          # [(PIL image, caption)]
    notes: list = field(default_factory=list)            # missing modalities etc.


def _png_b64(img: Image.Image, max_side: int = 900) -> str:
    im = img.copy()
    im.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def survival_png(cuts, survival, cohort_mean=None, t_end: float | None = None) -> bytes:
    """Small matplotlib PNG of the predicted step curve (and the cohort mean, dashed)."""
    from matplotlib.figure import Figure

    c = np.asarray(cuts, dtype=float)
    end = float(t_end) if t_end else (float(c.max()) * 1.25 if c.size else 1.0)
    fig = Figure(figsize=(4.8, 2.8), dpi=120)
    ax = fig.add_subplot()
    if cohort_mean is not None:
        ax.step(*step_points(c, cohort_mean, end), where="post", color="#555", ls="--", label="cohort mean")
    ax.step(*step_points(c, survival, end), where="post", color="#b2182b", lw=2.5, label="this patient")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Time (months)")
    ax.set_ylabel("Survival")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _table(d: dict, fmt=lambda v: v) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(fmt(v)))}</td></tr>" for k, v in d.items())
    return f"<table>{rows}</table>"


def report_html(r: PatientReport) -> str:
    """The report as one HTML string (UTF-8, A4-printable)."""
    e = html.escape
    surv = base64.b64encode(survival_png(r.cuts, r.survival, r.cohort_mean_survival)).decode("ascii")
    pct = lambda v: f"{float(v):.0%}"  # noqa: E731
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>ME-Mamba report — {e(r.case_id)}</title><style>",
        "body{font-family:sans-serif;color:#1f2933;max-width:190mm;margin:8mm auto;font-size:11pt}",
        "h1{font-size:16pt;margin:0}h2{font-size:12pt;margin:10px 0 4px;border-bottom:1px solid #ccd}",
        ".grid{display:flex;gap:12px;flex-wrap:wrap}.grid>div{flex:1;min-width:60mm}",
        "table{border-collapse:collapse;font-size:10pt}th,td{text-align:left;padding:1px 8px 1px 0}",
        "img{max-width:100%}.patches img{width:30mm;margin:2px}.muted{color:#667;font-size:9pt}",
        "@page{size:A4;margin:10mm}</style></head><body>",
        f"<h1>Patient {e(r.case_id)}</h1>",
        f"<p class='muted'>Cohort {e(r.cohort)} · model {e(r.model)} · "
        f"generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · research use only, not a diagnosis.</p>",
        "<div class='grid'><div><h2>Predicted risk</h2>",
        _table({"risk score": f"{r.risk:.3f}", "percentile in cohort": f"{r.percentile:.0f}th"} | {k: v for k, v in r.clinical.items()}),
        "</div>",
        f"<div><h2>Predicted survival</h2><img alt='survival curve' src='data:image/png;base64,{surv}'></div></div>",
    ]
    if r.expert_weights or r.contributions:
        parts.append("<div class='grid'>")
        if r.expert_weights:
            parts.append("<div><h2>Expert weights</h2>" + _table(r.expert_weights, pct) + "</div>")
        if r.contributions:
            parts.append("<div><h2>Genomic group contributions</h2>" + _table(r.contributions, pct) + "</div>")
        parts.append("</div>")
    if r.heatmap is not None:
        parts.append(f"<h2>Attention heatmap</h2><img alt='heatmap' src='data:image/png;base64,{_png_b64(r.heatmap)}'>"
                     f"<p class='muted'>{e(r.heatmap_caption)}</p>")
    if r.patches:
        parts.append("<h2>Top attention patches</h2><div class='patches'>")
        parts += [f"<img alt='{e(c)}' title='{e(c)}' src='data:image/png;base64,{_png_b64(im, 256)}'>" for im, c in r.patches]
        parts.append("</div>")
    if r.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in r.notes) + "</ul>")
    parts.append("</body></html>")
    return "".join(parts)
