"""A whole cohort as QuPath GeoJSON: one file per slide, for ``memamba export-qupath RUN COHORT --out DIR``.

``<out>/<slide_id>.geojson`` holds what :func:`memamba_core.qupath.slide_collection`
builds for that slide (attention detections, top-k and OT-group annotations)
with the patient's prediction from the loaded checkpoint; QuPath opens it with
``File → Import objects`` on the image of the same name (or drag and drop).
``<out>/export.json`` records the run, the cohort, the settings and every file
written, updated after each patient: a run that stops is resumed by running it
again (finished slides are kept), and a folder holding anything else is refused.
A patient whose data cannot be read is left out with the reason, not the cohort.
The output folder may not lie inside the cohort or the run folder (inputs are
never written).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..paths import atomic_write_text
from ..slides import open_cohort_slide, slide_patches
from ..viewer import PatchLayout
from .export import slide_collection, write_geojson

__all__ = ["QuPathExport", "export_cohort_qupath", "MANIFEST"]

MANIFEST = "export.json"
_KIND = "memamba-qupath-export"


@dataclass
class QuPathExport:
    """What an export did: ``files`` written (slide id → path), ``skipped`` notes, seconds taken."""

    out: Path
    files: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def refuse_inside_inputs(out: Path, cohort, loaded) -> None:
    """InputError when ``out`` is, lies inside or holds the cohort's inputs or the checkpoint's run folder: the
    project's one output guard (:func:`memamba_core.outputs.check_output_folder`)."""
    from ..outputs import check_output_folder, checkpoint_reads, cohort_reads

    check_output_folder(out, reads=[*cohort_reads(cohort), *checkpoint_reads(loaded.path, loaded.path)])


def _check_out(out: Path, cohort, loaded, settings: dict) -> dict:
    """The manifest to resume from ({} for a new folder); InputError for a folder that is not ours."""
    refuse_inside_inputs(out, cohort, loaded)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the GeoJSON files.")
    if not out.exists() or not any(out.iterdir()):
        return {}
    man = out / MANIFEST
    try:
        rec = json.loads(man.read_text()) if man.is_file() and not man.is_symlink() else None
    except (OSError, ValueError):
        rec = None
    if not isinstance(rec, dict) or rec.get("kind") != _KIND:
        raise InputError(f"--out {out} is a non-empty folder that is not a QuPath export of this project; "
                         f"give an empty or new folder.")
    if rec.get("settings") != settings:
        raise InputError(f"--out {out} holds an export of another run, cohort or settings ({man.name}); "
                         f"give a new folder to export this one.")
    return rec


def export_cohort_qupath(loaded, cohort, out: str | Path, *, k: int = 10, colour_key: str = "pathology/pool",
                         case_ids=None, progress=None) -> QuPathExport:
    """Export every patient's slides (or ``case_ids``') as QuPath GeoJSON into ``out``; see the module doc.

    ``loaded``: a :class:`memamba_core.train.LoadedModel`; ``cohort``: the loaded cohort;
    ``progress(done, total, case_id)``: called after each patient.
    """
    from ..train import predict_patient   # torch only when an export runs

    out = Path(out).expanduser()
    settings = {"run": str(Path(loaded.path).resolve()), "cohort": str(Path(cohort.root).resolve()),
                "k": int(k), "colour": colour_key}
    rec = _check_out(out, cohort, loaded, settings)
    done: dict[str, str] = dict(rec.get("files", {}))
    res = QuPathExport(out, files=dict(done))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ids = cohort.case_ids() if case_ids is None else list(case_ids)
    names = tuple(loaded.groups.names) if getattr(loaded, "groups", None) is not None else ()
    for n, case in enumerate(ids, start=1):
        slides = cohort.patient(case).slide_ids
        if slides and all(s in done for s in slides):
            continue
        if not cohort.has_pathology(case):
            res.skipped.append(f"{case}: no patch features; nothing to draw.")
            continue
        try:
            output, bag = predict_patient(loaded, cohort, case)
        except InputError as err:
            res.skipped.append(f"{case}: left out ({err})")
            continue
        if colour_key not in output.attention:   # the model's, not the patient's: refuse the export, not each slide
            branches = sorted(k for k in output.attention if k.startswith("pathology/"))
            raise InputError(f"attention branch {colour_key!r} is not in this model's output (it has "
                             f"{', '.join(branches) or 'no pathology attention'}); choose one of those.")
        if bag is None or bag.coords is None:
            res.skipped.append(f"{case}: no patch coordinates (only .pt features); add the CLAM .h5 files.")
            continue
        plan = output.transport_plan
        for pos, sid in enumerate(bag.slide_ids):
            if sid in done:
                continue
            try:
                layout = _layout(cohort, bag, pos)
                coll = slide_collection(layout, output.attention, plan, names, k, colour_key)
                path = write_geojson(out / f"{_safe(sid)}.geojson", coll)
            except InputError as err:
                res.skipped.append(f"{case} / {sid}: left out ({err})")
                continue
            done[sid] = path.name
            res.files[sid] = path.name
        atomic_write_text(out / MANIFEST, json.dumps({"kind": _KIND, "settings": settings, "files": done}, indent=1))
        if progress is not None:
            progress(n, len(ids), case)
    if not (out / MANIFEST).exists():
        atomic_write_text(out / MANIFEST, json.dumps({"kind": _KIND, "settings": settings, "files": done}, indent=1))
    res.seconds = time.perf_counter() - t0
    return res


def _safe(slide_id: str) -> str:
    """A file name for a slide id (ids never become paths: separators and leading dots are replaced)."""
    s = "".join(c if c.isalnum() or c in "-_." else "_" for c in slide_id).lstrip(".")
    return s or "slide"


def _layout(cohort, bag, pos: int) -> PatchLayout:
    """The slide's patches with their level-0 side (the slide view's, from the slide file when the cohort has it)."""
    slide = open_cohort_slide(cohort, bag.slide_ids[pos])
    if slide is None:
        return PatchLayout.without_slide_file(bag, pos)
    with slide:
        sp = slide_patches(bag, pos, slide)
    if sp.outside.size:
        raise InputError(f"slide {bag.slide_ids[pos]}: {sp.outside.size} of {sp.outside.size + len(sp)} patches "
                         f" lie outside the slide ({sp.level0_size[0]} × {sp.level0_size[1]} px); the features belong to another slide.")
    return PatchLayout.from_slide_patches(sp)
