"""Report pages from a run: score (who scores whom), calibrate, explain, draw the slide — one patient or a cohort.

:func:`patient_page` assembles one :class:`~memamba_core.report.pdf.ReportPage`;
:func:`write_cohort_report` writes every (or the given) patient into one PDF
(the CLI command is wired on top of it). Patients that cannot be scored (no
modality the model reads) are listed, not fatal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import matplotlib
import numpy as np
from PIL import Image

from ..data import Bag, Cohort
from ..errors import InputError
from ..explain.drivers import scored_drivers
from ..slides import open_slide
from ..survival.calibration import CalibrationMap
from ..survival.km import km_curve
from ..train.scoring import OUT_OF_FOLD, RunModels, clinical_prediction, score_patient
from ..viz.overlay import overlay_image, overlay_rgba, scale_scores
from ..viz.patches import read_patches, thumbnail_scale, top_k
from .pdf import ReportPage, write_report_pdf

__all__ = ["slide_images", "patient_page", "write_cohort_report"]

ATTENTION = "pathology/pool"  # the overlay: the Pathology Expert's pooling attention


def slide_images(cohort: Cohort, bag: Bag | None, attention: np.ndarray | None, *, k: int = 8, max_size: int = 900
                 ) -> tuple[Image.Image | None, str, list[tuple[Image.Image, str]]]:
    """(thumbnail with the attention overlay, caption, top-k patches with captions) of the patient's first slide with a file.

    ``attention``: (N,) over the bag's patches. (None, reason, []) when there is no slide file or no coordinates.
    """
    if bag is None or attention is None:
        return None, "no slide", []
    if bag.coords is None:
        return None, "the patch features have no coordinates (.pt without .h5)", []
    for pos, sid in enumerate(bag.slide_ids):
        path = cohort.slide_path(sid)
        if path is None:
            continue
        slide = open_slide(path)
        idx = np.flatnonzero(np.asarray(bag.slide_index) == pos)
        coords = np.asarray(bag.coords)[idx]
        level = int(bag.patch_level or 0)
        ds = float(slide.level_downsamples[level]) if level < len(slide.level_downsamples) else 1.0
        side0 = float(bag.patch_size or 256) * ds  # CLAM: patch_size at patch_level → level-0 pixels
        thumb = slide.thumbnail(max_size)
        scores = np.asarray(attention, dtype=float)[idx]
        cmap = matplotlib.colormaps["jet"]
        img = overlay_image(thumb, overlay_rgba(thumb.size[::-1], coords, side0, thumbnail_scale(thumb, slide.dimensions),
                                                cmap(scale_scores(scores))[:, :3], 0.45))
        top = top_k(scores, k)
        patches = [(im, f"#{r + 1} · {scores[j]:.3g}") for r, (im, j) in enumerate(zip(read_patches(slide, coords, top, int(side0)), top))]
        return img, f"{sid}: attention (pathology pooling, percentile colours)", patches
    return None, "the cohort has the patient's features but not the slide image", []


def patient_page(models: RunModels, cohort: Cohort, maps: dict[int, CalibrationMap], case_id: str, *, horizons=None,
                 k: int = 8, steps: int = 8, with_images: bool = True) -> ReportPage:
    """Score, calibrate and explain ``case_id``; the page of the report. InputError when the patient cannot be scored."""
    score = score_patient(models, cohort, case_id)
    pred = clinical_prediction(score, maps, horizons=horizons)
    drv = scored_drivers(models, cohort, maps, score.folds, case_id, k=k, steps=steps)
    first = score.outputs[score.folds[0]]
    att = first.attention.get(ATTENTION)
    img, cap, patches = slide_images(cohort, score.bag, None if att is None else att.numpy(), k=k) if with_images else (None, "", [])
    p = cohort.patient(case_id)
    notes = [] if img is not None or score.bag is None else [f"No slide overlay: {cap}."]
    missing = [m.modality for m in drv.modalities if not m.available]
    if missing:
        notes.append(f"Missing modality: {', '.join(missing)}; the same model scored the patient from what is present.")
    t = np.array([q.survival_months for q in cohort.patients])
    e = np.array([int(q.event) for q in cohort.patients])
    model = f"{models.folds[score.folds[0]].config.model} ({'out-of-fold, fold ' + str(score.folds[0]) if score.mode == OUT_OF_FOLD else f'ensemble of {len(score.folds)} folds'})"
    cal_source = maps[score.folds[0]].source if score.folds[0] in maps else ""
    return ReportPage(case_id=case_id, cohort=cohort.name, run=models.name, model=model, prediction=pred, drivers=drv,
                      cohort_km=km_curve(t, e, "cohort"), slide=img, slide_caption=cap, patches=patches,
                      clinical={k_: v for k_, v in p.clinical.items() if v is not None},
                      calibration=f"Cox/Breslow on the model's scale-free score, fitted on {cal_source}" if cal_source else "",
                      notes=notes)


def write_cohort_report(models: RunModels, cohort: Cohort, maps: dict[int, CalibrationMap], out: str | Path, *,
                        case_ids=None, horizons=None, steps: int = 8, progress: Callable[[int, int, str], None] | None = None
                        ) -> tuple[Path, list[str]]:
    """One PDF page per patient of ``cohort`` (or ``case_ids``) into ``out`` (atomic; never inside the cohort or run).

    Returns (the PDF path, the patients left out with the reason).
    """
    ids = cohort.case_ids() if case_ids is None else list(case_ids)
    pages, skipped = [], []
    for i, cid in enumerate(ids):
        try:
            pages.append(patient_page(models, cohort, maps, cid, horizons=horizons, steps=steps))
        except InputError as err:
            skipped.append(f"{cid}: {err}")
        if progress is not None:
            progress(i + 1, len(ids), cid)
    if not pages:
        raise InputError(f"no patient of cohort '{cohort.name}' could be scored: {skipped[0] if skipped else 'none given'}")
    return write_report_pdf(out, pages, inputs=(cohort.root, models.run)), skipped
