"""The session's choices, resolved once per run by the frame (Home.py), and the page guard.

Choices made on Home live in ``st.session_state`` under plain keys (not widget
keys, which Streamlit drops on pages that do not draw the widget), so they
persist across pages. :func:`resolve` (the frame) turns them into a
:class:`Selection` — paths, the demo build's status — before the page runs;
pages read it with :func:`selection` and load what they need through
:func:`require`, which says what is missing instead of failing. Loading goes
through :mod:`_cache`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

import _cache
import _demo
from memamba_core.app.text import md
from memamba_core.errors import InputError

DEMO = "demo"
_DEFAULTS = {"cohort_source": DEMO, "model_source": DEMO, "case_id": None}
_SELECTION = "_selection"


def demo_profile() -> str:
    """Demo profile the app builds and loads (``MEMAMBA_DEMO_PROFILE``: "full" by default, "tiny" for tests)."""
    return os.environ.get("MEMAMBA_DEMO_PROFILE", "full")


def default_model() -> str | None:
    """A site's default checkpoint (``MEMAMBA_DEFAULT_MODEL``: run folder, fold folder or file) instead of the demo one."""
    return os.environ.get("MEMAMBA_DEFAULT_MODEL") or None


@dataclass(frozen=True)
class Selection:
    """The cohort and model chosen, as paths (None while the demo is not there yet).

    ``cohort_stamp`` is part of the cohort's cache key: it changes while the demo is
    being built (more slides) and when it completes. ``demo``: the demo build's
    status when the session uses the demo cohort or checkpoint.
    """

    cohort_path: str | None
    cohort_stamp: tuple
    cohort_complete: bool
    model_path: str | None
    demo: object | None
    demo_model: bool = False  # the session uses the demo checkpoint (the build makes it too)

    def wait(self, what: str) -> None:
        """Stop the page with the demo build's progress: it needs ``what``, not built yet."""
        _demo.wait(self.demo, self.demo_model, what)


def resolve() -> Selection:
    """The frame's step: defaults into the session, the demo build checked (and started), the paths chosen."""
    for k, v in _DEFAULTS.items():
        st.session_state.setdefault(k, v)
    csrc, msrc = st.session_state["cohort_source"], st.session_state["model_source"]
    demo_model = msrc == DEMO and default_model() is None
    status = _demo.status(demo_profile(), need_model=demo_model) if csrc == DEMO or demo_model else None
    if csrc == DEMO:
        cohort_path = status.cohort if status.tables else None
        complete = status.ready
        stamp = ("complete",) if complete else ("partial", status.slides_done)
    else:
        cohort_path, complete, stamp = csrc, True, ()
    model_path = (status.model if demo_model else default_model()) if msrc == DEMO else msrc
    sel = Selection(cohort_path, stamp, complete, model_path, status, demo_model)
    st.session_state[_SELECTION] = sel
    return sel


def selection() -> Selection:
    """This run's :class:`Selection` (resolved by the frame; resolved here when a page runs on its own)."""
    return st.session_state.get(_SELECTION) or resolve()


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


def use_cohort(path: str) -> None:
    """Load the cohort at ``path`` (or the demo) and make it the session's choice; InputError if unusable."""
    if path != DEMO:
        if not str(path).strip():
            raise InputError("Enter the path of a cohort folder or of a cohort file (.toml / .yaml).")
        path = str(Path(path.strip()).expanduser())
        _cache.cohort(path, ())
    st.session_state["cohort_source"] = path
    st.session_state["case_id"] = None
    resolve()


def use_model(path: str) -> None:
    """Make the checkpoint at ``path`` (or the demo's) the session's choice; InputError if its meta record is unusable.

    The weights are read when a page needs the model.
    """
    if path != DEMO:
        if not str(path).strip():
            raise InputError("Enter the path of a run folder, a fold folder or a fold's weights file.")
        from memamba_core.app import run_stamp

        path = str(Path(path.strip()).expanduser())
        _cache.fold_card(path, run_stamp(path))
    st.session_state["model_source"] = path
    resolve()


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
