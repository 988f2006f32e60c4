"""What a page loads for the session's choice (:mod:`_choice`), and the page guard.

Pages load what they need through :func:`require`, which says what is missing
instead of failing, or through the loaders here (cohort, checkpoint card, model,
run files, predictions); loading goes through :mod:`_cache`. Bad input is shown
with :func:`show_error`, never as a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

import _cache
from _choice import selection
from memamba_core.app.text import md
from memamba_core.errors import InputError

def show_error(err: Exception) -> None:
    """Bad input → the library's message (shown literally: it names user files and values), never a traceback."""
    st.error(md(err), icon="⚠️")


def cohort_path() -> str:
    """The chosen cohort's path (the page stops with the demo's progress while it is not there yet)."""
    sel = selection()
    if sel.cohort_path is None:
        sel.wait("the demo cohort")
    return sel.cohort_path


def model_path() -> str:
    """The chosen checkpoint's path (the page stops with the demo's progress while it is not there yet)."""
    sel = selection()
    if sel.model_path is None:
        sel.wait("the demo checkpoint")
    return sel.model_path


def cohort():
    return _cache.cohort(cohort_path(), selection().cohort_stamp)


def card():
    """The chosen checkpoint's :class:`memamba_core.app.FoldCard` (its meta record; the model is not loaded)."""
    from memamba_core.app import run_stamp

    path = model_path()
    return _cache.fold_card(path, run_stamp(path))


def model():
    return _cache.model(model_path())


def run_file(what: str):
    """``oof_predictions`` | ``run_summary`` | ``ablation_table`` of the chosen checkpoint's run (None if absent)."""
    from memamba_core.app import run_dir_of, run_stamp

    path = model_path()
    return _cache.run_file(what, str(run_dir_of(path)), run_stamp(path))


def _items(switches: dict | None) -> tuple:
    return tuple(sorted((switches or {}).items()))


def predictions(switches: dict | None = None):
    """Cohort predictions of the chosen model (with optional inference switches); needs the whole cohort."""
    sel = selection()
    return _cache.predictions(cohort_path(), sel.cohort_stamp, model_path(), _items(switches))


def patient_prediction(case_id: str, switches: dict | None = None):
    """(:class:`memamba_core.app.PatientResult`, its :class:`memamba_core.app.BagLayout` or None) of one patient."""
    res = _cache.patient(cohort_path(), selection().cohort_stamp, model_path(), case_id, _items(switches))
    return res, res.bag


@dataclass
class Context:
    cohort: object
    loaded: object | None
    preds: object | None


def require(need_model: bool = True, complete: bool = False) -> Context:
    """Load what a page needs, or say what is missing and stop the page (never a traceback).

    ``complete``: the page needs every patient's data (the demo fully built);
    ``need_model``: the loaded model and its predictions for the cohort.
    """
    sel = selection()
    if complete and not sel.cohort_complete:
        sel.wait("every slide of the demo cohort")
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


def keep(key: str) -> None:
    """Copy widget ``_w_<key>`` into the persistent ``key`` (use as a widget's on_change)."""
    st.session_state[key] = st.session_state[f"_w_{key}"]


def patient_picker(ids: list[str], label: str = "Patient", help: str | None = None) -> str:
    """A patient selectbox bound to the session's ``case_id`` (shared by the Patient and Transport pages)."""
    cur = st.session_state.get("case_id")
    st.session_state["_w_case_id"] = cur if cur in ids else ids[0]
    st.session_state["case_id"] = st.session_state["_w_case_id"]
    return st.selectbox(label, ids, key="_w_case_id", on_change=keep, args=("case_id",), help=help)
