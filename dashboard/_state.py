"""Session state shared by every page: the chosen cohort and model, the demo build, the page guard.

Choices made on Home live in ``st.session_state`` under plain keys (not widget
keys, which Streamlit drops on pages that do not draw the widget), so they
persist across pages. Loading goes through :mod:`_cache`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

import _cache
import _demo
from memamba_core.errors import InputError

DEMO = "demo"
_DEFAULTS = {"cohort_source": DEMO, "model_source": DEMO, "case_id": None}


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


def cohort_path() -> str:
    """The chosen cohort's path (building the demo on first use)."""
    src = st.session_state.get("cohort_source", DEMO)
    if src == DEMO:
        return _demo.cohort(demo_profile())
    return src


def model_path() -> str:
    """The chosen checkpoint's path (training the demo model on first use)."""
    src = st.session_state.get("model_source", DEMO)
    if src == DEMO and default_model():
        return default_model()
    if src == DEMO:
        return _demo.model(demo_profile())
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
