"""First start: build the demo cohort and train the demo checkpoint, with a progress display (once per process)."""

from __future__ import annotations

import os
import threading

import streamlit as st

import _runs

_BUILD_LOCK = threading.Lock()
_BUILT: dict[tuple[str, str, str], str] = {}  # (what, profile, cache) → path; process-wide: each build runs once


def _built(what: str, profile: str, build) -> str:
    key = (what, profile, os.environ.get("MEMAMBA_CACHE", ""))
    with _BUILD_LOCK:
        if key not in _BUILT:
            _BUILT[key] = str(build())
    return _BUILT[key]


def _build_demo(profile: str) -> str:
    from memamba_core.demo import ensure_demo

    with st.status(f"Preparing the demo cohort ('{profile}')… (first start only)", expanded=True) as box:
        bar = st.progress(0.0, text="starting…")

        def progress(fraction: float, message: str = "") -> None:
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=message or None)

        path = ensure_demo(profile, progress=progress)
        box.update(label="Demo cohort ready", state="complete", expanded=False)
    return path


def _build_demo_model(profile: str) -> str:
    from memamba_core.train import ensure_demo_model

    with st.status("Preparing the demo model… (first start only: 5-fold training on the demo cohort)",
                   expanded=True) as box:
        bar, records = st.progress(0.0, text="starting…"), []

        def on_record(rec: dict) -> None:
            records.append(rec)
            frac, msg = _runs.progress(records)
            bar.progress(frac, text=msg)

        path = ensure_demo_model(profile, on_record=on_record)
        box.update(label="Demo model ready", state="complete", expanded=False)
    return path


def cohort(profile: str) -> str:
    """The demo cohort folder of ``profile`` (built on first use)."""
    return _built("cohort", profile, lambda: _build_demo(profile))


def model(profile: str) -> str:
    """The demo run folder of ``profile`` (cohort built and checkpoint trained on first use)."""
    cohort(profile)
    return _built("model", profile, lambda: _build_demo_model(profile))
