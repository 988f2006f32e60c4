"""The session's choices — cohort and checkpoint — resolved once per run by the frame (Home.py).

Choices made on Home live in ``st.session_state`` under plain keys (not widget
keys, which Streamlit drops on pages that do not draw the widget), so they
persist across pages. :func:`resolve` (the frame) turns them into a
:class:`Selection` — paths, the demo build's status — before the page runs;
pages read it with :func:`selection`, and load what it names through
:mod:`_state`. Home changes the choice with :func:`use_cohort` / :func:`use_model`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

import _cache
import _demo
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
