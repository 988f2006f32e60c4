"""Small widget helpers shared by pages (Streamlit; the logic they call lives in memamba_core)."""

from __future__ import annotations

import streamlit as st

import _cache
from memamba_core.app.text import md
from memamba_core.errors import InputError


def slide_choice(bag, cohort, key: str):
    """Pick one of a patient's slides (a selector only when there are several) and place its patches.

    Returns ``(pos, path, slide, patches, note)``: the slide's index in ``bag.slide_ids``, its
    file, the open slide and its :class:`memamba_core.slides.SlidePatches`; when the slide
    cannot be shown (no image in the cohort, a file outside the cohort, a damaged file,
    coordinates that miss it) ``slide`` and ``patches`` are None and ``note`` — already shown —
    says why. Other slides and patients are not affected.
    """
    from memamba_core.slides import cohort_slide_file, slide_patches

    pos = 0
    if len(bag.slide_ids) > 1:
        pos = st.selectbox("Slide", range(len(bag.slide_ids)), format_func=lambda i: bag.slide_ids[i], key=key)
    sid = bag.slide_ids[pos]
    path = None
    try:
        path = cohort_slide_file(cohort, sid)
        if path is None:
            note = f"No slide file for {sid}: the cohort has its features but not the image."
            st.info(md(note) + " Add it under slides/ to see the heatmap and patches.")
            return pos, None, None, None, note
        sl = _cache.slide(str(path))
        sp = slide_patches(bag, pos, sl)
    except InputError as err:
        st.warning(md(err))
        return pos, path, None, None, str(err)
    for n in sp.notes:
        st.caption(md(n))
    return pos, path, sl, sp, None
