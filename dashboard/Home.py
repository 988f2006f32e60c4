"""The app's frame (``streamlit run dashboard/Home.py``): resolves the cohort and model once, then runs the page.

Every page runs inside this script (Streamlit's ``st.navigation``): the
session's choices become one :class:`_state.Selection` (paths, the demo build's
status — started in the background on a first start) before the page draws.
The pages in ``app_pages/`` hold layout only (not ``pages/``: Streamlit would then
add that folder's files as pages of its own).
"""

import streamlit as st

import _state

st.set_page_config(page_title="ME-Mamba survival", layout="wide")  # no emoji icons: they import a 0.1–0.2 s table
_state.resolve()
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
