"""Small widget helpers shared by pages (Streamlit; the logic they call lives in memamba_core)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st


def slide_choice(bag, cohort, key: str) -> tuple[int, Path | None]:
    """Pick one of a patient's slides (a selector only when there are several).

    Returns the slide's index in ``bag.slide_ids`` and its file in the cohort, or
    None when the cohort has the slide's features but not its image.
    """
    pos = 0
    if len(bag.slide_ids) > 1:
        pos = st.selectbox("Slide", range(len(bag.slide_ids)), format_func=lambda i: bag.slide_ids[i], key=key)
    return pos, cohort.slide_path(bag.slide_ids[pos])
