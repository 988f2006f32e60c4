"""The demo build as the pages see it: started in the background on a first start, shown with its progress.

The build runs in its own process (:mod:`memamba_core.demo.background`): the
server answers at once, Home and Cohort survival work as soon as the shipped
tables and checkpoint are in place (seconds), and a page that needs every
slide says so with a live progress bar, then redraws itself when the build ends.
"""

from __future__ import annotations

import streamlit as st

from memamba_core.app.text import md


def status(profile: str, need_model: bool):
    """The demo's :class:`~memamba_core.demo.BuildStatus`, starting the background build when nothing is there yet."""
    from memamba_core.demo import build_status, start_build

    s = build_status(profile, need_model=need_model)
    if s.state == "absent":
        s = start_build(profile, model=need_model)
    return s


def _line(s) -> str:
    eta = s.eta_s()
    slides = f" · {s.slides_done}/{s.n_slides} slides" if s.n_slides else ""
    return f"{s.message or 'building…'}{slides}" + ("" if eta is None else f" · about {eta:.0f} s left")


def _watch(s, need_model: bool) -> None:
    """A progress bar that follows the build (every second) and redraws the app when what it offers changes."""
    from memamba_core.demo import build_status

    seen = (s.state, s.tables, s.model)

    @st.fragment(run_every=1.0)
    def poll():
        now = build_status(s.profile, need_model=need_model)
        st.progress(min(max(now.fraction, 0.0), 1.0), text=md(_line(now)))
        if (now.state, now.tables, now.model) != seen:
            st.rerun()

    poll()


def _failed(s, need_model: bool) -> None:
    st.error(f"Building the demo failed: {md(s.error)}", icon="⚠️")
    if s.log:
        with st.expander("Build log (last lines)"):
            st.code(s.log)
    if st.button("Try again", key="demo_retry", type="primary"):
        from memamba_core.demo import start_build

        start_build(s.profile, model=need_model)
        st.rerun()


def banner(s, need_model: bool) -> None:
    """On Home: what the first start is doing, while it is not done (nothing once the demo is ready)."""
    if s is None or s.ready:
        return
    if s.state == "failed":
        _failed(s, need_model)
        return
    with st.container(border=True):
        st.markdown("**Preparing the demo (first start only)** — it is built in the background: the cohort summary "
                    "and Cohort survival work now; the Patient, Transport map, Ablations and Train pages open once "
                    "every slide is built.")
        _watch(s, need_model)


def wait(s, need_model: bool, what: str) -> None:
    """Stop the page: it needs ``what``, which the demo build has not made yet (progress shown; redrawn when it has)."""
    if s is not None and s.state == "failed":
        _failed(s, need_model)
        st.stop()
    st.info(f"This page needs {what}, which is being built in the background (first start only). "
            "It opens by itself when ready; Home and Cohort survival already work.", icon="⏳")
    if s is not None:
        _watch(s, need_model)
    st.stop()
