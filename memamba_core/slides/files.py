"""Finding and opening a cohort's slide images, safely: the gate every slide view goes through.

A slide image for ``slide_id`` is the file in the cohort's ``slides/`` folder named
``slide_id`` itself or its stem (:func:`slide_stem`, also the name of its feature
files) with any known slide extension, case-insensitive (``.svs``, ``.tif``, ``.ndpi``, …;
:data:`memamba_core.formats.SLIDE_EXTENSIONS`); when several match, the first by name.

The matching itself is the cohort's (:meth:`Cohort.slide_path`, which indexes ``slides/`` once);
one bad slide (a symlink leaving the cohort, a truncated or non-slide file) raises its own
:class:`InputError` each time it is asked for, and never hides another slide. Only slides of the cohort's patients are served: a viewer that
asks for anything else gets an error, not a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..formats import SLIDE_EXTENSIONS
from .reader import Slide, open_slide

if TYPE_CHECKING:
    from ..data.cohort import Cohort

__all__ = ["slide_stem", "cohort_slide_file", "open_cohort_slide"]


def slide_stem(slide_id: str) -> str:
    """``slide_id`` without a known slide extension (``"A.b.svs"`` → ``"A.b"``)."""
    low = slide_id.lower()
    for ext in SLIDE_EXTENSIONS:
        if low.endswith(ext):
            return slide_id[: -len(ext)]
    return slide_id


def cohort_slide_file(cohort: "Cohort", slide_id: str) -> Path | None:
    """The resolved slide image of ``slide_id`` inside ``cohort.root``; None when the cohort has none.

    Raises :class:`InputError` when ``slide_id`` is not a slide of the cohort's patients, or when
    its file resolves outside the cohort folder (e.g. a symlink pointing out).
    """
    known = {s for p in cohort.patients for s in p.slide_ids}
    if slide_id not in known:
        raise InputError(f"cohort '{cohort.name}': {slide_id!r} is not a slide of its patients; pick one of their slide ids.")
    return cohort.slide_path(slide_id)


def open_cohort_slide(cohort: "Cohort", slide_id: str, backend: str = "auto") -> Slide | None:
    """Open the slide image of ``slide_id`` (see :func:`cohort_slide_file`); None when the cohort has none.

    Raises :class:`InputError` naming the file and the fix for a slide outside the cohort, a
    truncated file, a file that is not a slide, or a format neither reader opens.
    """
    path = cohort_slide_file(cohort, slide_id)
    return None if path is None else open_slide(path, backend=backend)
