"""The patient report as a real PDF: one A4 page per patient, drawn with matplotlib (no HTML, no network).

A page holds: identification; the run and model(s) that scored the patient and
how (out-of-fold or ensemble); the calibrated survival curve with its band
against the cohort's Kaplan–Meier curve; survival at the horizons and the
median with their intervals; the risk group and percentile; the slide
thumbnail with the attention overlay and the top patches; the leading gene
groups and genes with their direction; "Research use only".

User strings (case ids, gene and group names, clinical values) are drawn as
plain text: matplotlib's mathtext is switched off for them (``$`` escaped).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from PIL import Image  # noqa: E402

from ..errors import InputError  # noqa: E402
from ..explain.drivers import Drivers  # noqa: E402
from ..paths import atomic_write_bytes  # noqa: E402
from ..survival.clinical_terms import ClinicalPrediction  # noqa: E402
from ..survival.km import KMCurve  # noqa: E402

__all__ = ["RESEARCH_ONLY", "ReportPage", "render_page", "report_pdf", "write_report_pdf"]

RESEARCH_ONLY = "Research use only — not for diagnosis or treatment decisions."
_RED, _BLUE, _GREY = "#b2182b", "#2166ac", "#555555"


@dataclass
class ReportPage:
    """Everything one page shows. Images are PIL RGB; ``patches``: [(image, caption)]."""

    case_id: str
    cohort: str
    run: str
    model: str
    prediction: ClinicalPrediction
    drivers: Drivers | None = None
    cohort_km: KMCurve | None = None
    slide: Image.Image | None = None
    slide_caption: str = ""
    patches: list = field(default_factory=list)
    clinical: dict = field(default_factory=dict)
    calibration: str = ""
    notes: list = field(default_factory=list)


def _t(text: object) -> str:
    """A user string drawn literally (no mathtext)."""
    return str(text).replace("$", r"\$")


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _months(x: float) -> str:
    return "not reached" if not np.isfinite(x) else f"{x:.0f}"


def _curve(ax, page: ReportPage) -> None:
    p = page.prediction
    ax.fill_between(p.months, p.lower, p.upper, step="post", color=_RED, alpha=0.18, lw=0, label="interval")
    if page.cohort_km is not None:
        km = page.cohort_km
        keep = km.timeline <= p.months[-1]
        ax.step(km.timeline[keep], km.survival[keep], where="post", color=_GREY, ls="--", lw=1.2, label=f"cohort KM (n={km.n})")
    ax.step(p.months, p.survival, where="post", color=_RED, lw=2.2, label="this patient")
    for h, iv in sorted(p.horizons.items()):
        ax.errorbar([h], [iv.value], yerr=[[iv.value - iv.low], [iv.high - iv.value]], fmt="o", color=_RED, ms=5, capsize=3)
    if p.median is not None:
        ax.axvline(p.median.value, color=_RED, ls=":", lw=1)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, p.months[-1])
    ax.set_xlabel("months")
    ax.set_ylabel("survival probability")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=7, frameon=False)


def _numbers(fig, x: float, y: float, page: ReportPage) -> None:
    """The key numbers as text, top-left at figure coordinates (x, y)."""
    p = page.prediction
    lines = [("Risk group", f"{p.risk_group} (percentile {p.percentile:.0f} among training patients)")]
    for h, iv in sorted(p.horizons.items()):
        lines.append((f"Survival at {h:g} months", f"{_pct(iv.value)}  ({_pct(iv.low)}–{_pct(iv.high)})"))
    if p.median is not None:
        lines.append(("Median survival", f"{p.median.value:.0f} months  ({_months(p.median.low)}–{_months(p.median.high)})"))
    else:
        lines.append(("Median survival", f"not reached within {p.follow_up:.0f} months"))
    if p.skipped_horizons:
        lines.append(("Not shown", f"{', '.join(f'{h:g}' for h in p.skipped_horizons)} months: beyond the follow-up"))
    for k, v in lines:
        fig.text(x, y, k, fontsize=8.5, weight="bold", va="top")
        fig.text(x, y - 0.014, v, fontsize=8.5, va="top")
        y -= 0.034
    fig.text(x, y, f"Intervals: {p.interval_kind}.", fontsize=7, va="top", color=_GREY, wrap=True)


def _image(ax, img: Image.Image | None, caption: str, missing: str) -> None:
    ax.axis("off")
    if img is None:
        ax.text(0.5, 0.5, missing, ha="center", va="center", fontsize=8, color=_GREY, wrap=True, transform=ax.transAxes)
        return
    ax.imshow(np.asarray(img.convert("RGB")))
    ax.set_title(_t(caption), fontsize=7.5)


def _short(name: object, n: int = 24) -> str:
    """A bar label that fits the page's margin: long names cut with an ellipsis (the full name stays in the app)."""
    text = str(name)
    return text if len(text) <= n else text[: n - 1] + "…"


def _bars(ax, names, values, title: str) -> None:
    if not names:
        ax.axis("off")
        ax.text(0.5, 0.5, f"{title}: none (no genomics)", ha="center", va="center", fontsize=8, color=_GREY, transform=ax.transAxes)
        return
    v = np.asarray(values, dtype=float)
    y = np.arange(len(names))[::-1]
    ax.barh(y, v, color=[_RED if x > 0 else _BLUE for x in v])
    ax.set_yticks(y, [_t(_short(n)) for n in names], fontsize=7)
    ax.axvline(0, color="#999", lw=0.8)
    ax.set_title(title, fontsize=8.5)
    ax.tick_params(axis="x", labelsize=7)


def _mosaic(patches: list, n: int = 8, cols: int = 4, side: int = 128) -> Image.Image | None:
    """Up to ``n`` patches tiled ``cols`` per row into one image (one axes instead of n)."""
    if not patches:
        return None
    rows = -(-min(n, len(patches)) // cols)
    out = Image.new("RGB", (cols * (side + 4), rows * (side + 4)), "white")
    for i, (img, _) in enumerate(patches[:n]):
        out.paste(img.convert("RGB").resize((side, side)), ((i % cols) * (side + 4), (i // cols) * (side + 4)))
    return out


def render_page(page: ReportPage) -> plt.Figure:
    """One A4 portrait page (a matplotlib Figure; close it after saving). Five axes; the rest is figure text."""
    fig = plt.figure(figsize=(8.27, 11.69))
    p = page.prediction
    fig.text(0.06, 0.975, "ME-Mamba survival prediction", fontsize=15, weight="bold", va="top")
    fig.text(0.96, 0.975, "RESEARCH USE ONLY", fontsize=11, weight="bold", color=_RED, ha="right", va="top")
    clin = ", ".join(f"{_t(k)} {_t(v)}" for k, v in page.clinical.items())
    fig.text(0.06, 0.945, f"Patient {_t(page.case_id)} · cohort {_t(page.cohort)}" + (f" · {clin}" if clin else ""), fontsize=9, va="top")
    fig.text(0.06, 0.928, f"Run {_t(page.run)} · model {_t(page.model)}", fontsize=9, va="top")
    fig.text(0.06, 0.911, _t(p.scored_by), fontsize=8.5, va="top", color=_GREY)
    _curve(fig.add_axes((0.08, 0.66, 0.46, 0.22)), page)
    _numbers(fig, 0.60, 0.885, page)
    _image(fig.add_axes((0.04, 0.39, 0.50, 0.20)), page.slide, page.slide_caption,
           "No slide image for this patient (features only, or genomics only).")
    _image(fig.add_axes((0.57, 0.41, 0.40, 0.17)), _mosaic(page.patches), f"Top {min(len(page.patches), 8)} patches by attention"
           if page.patches else "", "No patches to show.")
    d = page.drivers
    if d is not None:
        parts = [f"{m.modality}: {m.status}" if m.effect is None else
                 f"{m.modality} {m.effect:+.3f} ({m.status}), expert weight {m.expert_weight:.0%}" for m in d.modalities]
        fig.text(0.06, 0.37, "What drives the risk — modalities: " + "; ".join(parts), fontsize=8, va="top", wrap=True)
        fig.text(0.06, 0.345, f"Effects in {d.units}; red = towards higher risk, blue = towards lower risk. "
                              "Genes: integrated gradients against the training patients' average.", fontsize=7, va="top",
                 color=_GREY, wrap=True)
    groups = d.groups[:8] if d is not None else ()
    genes = d.genes[:10] if d is not None else ()
    _bars(fig.add_axes((0.22, 0.07, 0.26, 0.24)), [g.group for g in groups], [g.effect for g in groups], "Leading gene groups")
    _bars(fig.add_axes((0.66, 0.07, 0.30, 0.24)), [g.gene for g in genes], [g.effect for g in genes], "Leading genes")
    foot = f"{RESEARCH_ONLY} Calibration: {page.calibration}. " if page.calibration else f"{RESEARCH_ONLY} "
    foot += f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}."
    if page.notes:
        foot += " Notes: " + " ".join(_t(n) for n in page.notes)
    fig.text(0.06, 0.03, foot, fontsize=6.5, color=_GREY, wrap=True, va="top")
    return fig


def report_pdf(pages: Iterable[ReportPage]) -> bytes:
    """A PDF with one page per :class:`ReportPage`, as bytes."""
    buf = io.BytesIO()
    n = 0
    with PdfPages(buf, metadata={"Title": "ME-Mamba survival report (research use only)", "Creator": "memamba"}) as pdf:
        for page in pages:
            fig = render_page(page)
            pdf.savefig(fig)
            plt.close(fig)
            n += 1
    if n == 0:
        raise InputError("no patient to put in the report.")
    return buf.getvalue()


def write_report_pdf(path: str | Path, pages: Iterable[ReportPage], *, inputs: Iterable[str | Path] = ()) -> Path:
    """Write :func:`report_pdf` to ``path`` atomically; refuses a path inside any of ``inputs`` (cohort, run folder)."""
    out = Path(path).expanduser().resolve()
    for root in inputs:
        r = Path(root).expanduser().resolve()
        if out == r or r in out.parents:
            raise InputError(f"{out}: the report would be written inside the input {r}; choose an output path outside it.")
    if out.suffix.lower() != ".pdf":
        raise InputError(f"{out}: the report is a PDF; give a path ending in .pdf.")
    atomic_write_bytes(out, report_pdf(pages))
    return out
