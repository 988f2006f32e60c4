"""The app's frame (``streamlit run dashboard/Home.py``): resolves the cohort and model once, then runs the page.

Every page runs inside this script (Streamlit's ``st.navigation``): the
session's choices become one :class:`_choice.Selection` (paths, the demo build's
status — started in the background on a first start) before the page draws.
The pages in ``app_pages/`` hold layout only (not ``pages/``: Streamlit would then
add that folder's files as pages of its own).

This file is also the server: ``streamlit run`` finds the ``st.App`` below and
imports this file as a module to serve it (then ``__name__`` is not
``"__main__"``); each script run executes it as ``__main__``. The app is wrapped
in :class:`memamba_core.app.server.HostGuard`, which refuses requests whose
``Host`` is not this server (DNS rebinding). The server's options live in
``dashboard/.streamlit/config.toml``, beside this file, so they apply from any
working directory; the frame refuses to show patient data when the options in
force are unsafe (:func:`memamba_core.app.server.unsafe_options`).
"""

import streamlit as st

if __name__ == "__main__":  # a script run
    import os

    import _choice
    from memamba_core.app.server import unsafe_options

    st.set_page_config(page_title="ME-Mamba survival", layout="wide")  # no emoji icons: they import a 0.1–0.2 s table
    problems = unsafe_options(st.get_option, os.environ)
    if problems:
        st.title("ME-Mamba survival dashboard")
        st.error("This server is not started safely, so no patient data is shown. To fix it:")
        for p in problems:
            st.warning(p)
        st.stop()
    _choice.resolve()
    PAGES = [
        st.Page("app_pages/0_Home.py", title="Home", default=True),
        st.Page("app_pages/1_Cohort_survival.py", title="Cohort survival"),
        st.Page("app_pages/2_Patient.py", title="Patient"),
        st.Page("app_pages/3_Transport_map.py", title="Transport map"),
        st.Page("app_pages/4_Ablations.py", title="Ablations"),
        st.Page("app_pages/5_Train_evaluate.py", title="Train / evaluate"),
        st.Page("app_pages/6_Model_quality.py", title="Model quality"),
    ]
    st.navigation(PAGES).run()
else:  # `streamlit run` imports this file to serve it
    from starlette.middleware import Middleware

    from memamba_core.app.server import HostGuard

    app = st.App(__file__, middleware=[Middleware(HostGuard)])
