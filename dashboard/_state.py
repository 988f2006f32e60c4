"""Session state shared by every page: the chosen cohort and model, the demo build, the page guard.

Choices made on Home live in ``st.session_state`` under plain keys (not widget
keys, which Streamlit drops on pages that do not draw the widget), so they
persist across pages. Loading goes through :mod:`_cache`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

import _cache
import _jobs
from memamba_core.errors import InputError

DEMO = "demo"
_DEFAULTS = {"cohort_source": DEMO, "model_source": DEMO, "case_id": None}
_BUILD_LOCK = threading.Lock()
_BUILT: dict[tuple[str, str, str], str] = {}  # (what, profile, cache) → path; process-wide: each build runs once


def demo_profile() -> str:
    """Demo profile the app builds and loads (``MEMAMBA_DEMO_PROFILE``: "full" by default, "tiny" for tests)."""
    return os.environ.get("MEMAMBA_DEMO_PROFILE", "full")


def default_model() -> str | None:
    """A site's default checkpoint (``MEMAMBA_DEFAULT_MODEL``: run folder, fold folder or file) instead of the demo one."""
    return os.environ.get("MEMAMBA_DEFAULT_MODEL") or None


def init() -> None:
    """Put default choices into the session the first time any page runs."""
    for k, v in _DEFAULTS.items():
        st.session_state.setdefault(k, v)


def keep(key: str) -> None:
    """Copy widget ``_w_<key>`` into the persistent ``key`` (use as a widget's on_change)."""
    st.session_state[key] = st.session_state[f"_w_{key}"]


def show_error(err: Exception) -> None:
    """Bad input → the library's message, never a traceback."""
    st.error(str(err), icon="⚠️")


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
            frac, msg = _jobs.progress(records)
            bar.progress(frac, text=msg)

        path = ensure_demo_model(profile, on_record=on_record)
        box.update(label="Demo model ready", state="complete", expanded=False)
    return path


def cohort_path() -> str:
    """The chosen cohort's path (building the demo on first use)."""
    src = st.session_state.get("cohort_source", DEMO)
    if src == DEMO:
        p = demo_profile()
        return _built("cohort", p, lambda: _build_demo(p))
    return src


def model_path() -> str:
    """The chosen checkpoint's path (training the demo model on first use)."""
    src = st.session_state.get("model_source", DEMO)
    if src == DEMO and default_model():
        return default_model()
    if src == DEMO:
        p = demo_profile()
        _built("cohort", p, lambda: _build_demo(p))
        return _built("model", p, lambda: _build_demo_model(p))
    return src


def cohort():
    return _cache.cohort(cohort_path())


def model():
    return _cache.model(model_path())


def _items(switches: dict | None) -> tuple:
    return tuple(sorted((switches or {}).items()))


def predictions(switches: dict | None = None) -> pd.DataFrame:
    """Cohort predictions of the chosen model (with optional inference switches)."""
    return _cache.predictions(cohort_path(), model_path(), _items(switches))


def patient_prediction(case_id: str, switches: dict | None = None):
    """(SurvivalOutput, Bag | None) of one patient."""
    return _cache.patient(cohort_path(), model_path(), case_id, _items(switches))


def oof_predictions(loaded, cohort) -> pd.DataFrame | None:
    """Out-of-fold predictions of the loaded model's run for this cohort (None if the run has none).

    Each patient scored by the fold model that did not train on it; same
    columns as :func:`predictions`, ``in_training`` all false.
    """
    f = Path(loaded.path).parent / "oof_predictions.csv"
    if not f.is_file():
        return None
    df = _cache.csv(str(f), f.stat().st_mtime)
    df = df[df["case_id"].isin(set(cohort.case_ids()))]
    if df.empty:
        return None
    return df.assign(event=1 - df["censorship"].astype(int), in_training=False).reset_index(drop=True)


def use_cohort(path: str) -> None:
    """Load the cohort at ``path`` (or the demo) and make it the session's choice; InputError if unusable."""
    if path != DEMO:
        if not str(path).strip():
            raise InputError("Enter the path of a cohort folder or of a cohort file (.toml / .yaml).")
        path = str(Path(path.strip()).expanduser())
        _cache.cohort(path)
    st.session_state["cohort_source"] = path
    st.session_state["case_id"] = None


def use_model(path: str) -> None:
    """Load the checkpoint at ``path`` (or the demo) and make it the session's choice; InputError if unusable."""
    if path != DEMO:
        if not str(path).strip():
            raise InputError("Enter the path of a run folder, a fold folder or a model.safetensors file.")
        path = str(Path(path.strip()).expanduser())
        _cache.model(path)
    st.session_state["model_source"] = path


@dataclass
class Context:
    cohort: object
    loaded: object | None
    preds: pd.DataFrame | None


def require(need_model: bool = True) -> Context:
    """Load what a page needs, or say what is wrong and stop the page (never a traceback)."""
    init()
    try:
        c = cohort()
    except InputError as err:
        show_error(err)
        st.info("Choose another cohort on the Home page.")
        st.stop()
    if not need_model:
        return Context(c, None, None)
    try:
        loaded, preds = model(), predictions()
    except InputError as err:
        show_error(err)
        st.info("Choose another model (or a cohort that fits this one) on the Home page.")
        st.stop()
    return Context(c, loaded, preds)


def patient_picker(ids: list[str], label: str = "Patient", help: str | None = None) -> str:
    """A patient selectbox bound to the session's ``case_id`` (shared by the Patient and Transport pages)."""
    cur = st.session_state.get("case_id")
    st.session_state["_w_case_id"] = cur if cur in ids else ids[0]
    st.session_state["case_id"] = st.session_state["_w_case_id"]
    return st.selectbox(label, ids, key="_w_case_id", on_change=keep, args=("case_id",), help=help)
