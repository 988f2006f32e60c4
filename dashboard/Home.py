"""Home: choose the cohort and the model; see the device, the scan backend and the cohort summary."""

import streamlit as st

import _state
from _info import runtime_frame, model_frame
from memamba_core.errors import InputError

st.set_page_config(page_title="ME-Mamba survival", page_icon="🔬", layout="wide")
_state.init()

st.title("ME-Mamba survival dashboard")
st.caption(
    "Multimodal (whole-slide images + genomics) survival prediction with a multi-expert Mamba model. "
    "Research use only — not a diagnostic device."
)

left, right = st.columns(2)
with left:
    st.subheader("Cohort")
    src = st.session_state["cohort_source"]
    kind = st.radio("Cohort", ["Demo cohort", "My cohort"], index=0 if src == _state.DEMO else 1,
                    horizontal=True, key="_w_cohort_kind", label_visibility="collapsed")
    if kind == "My cohort":
        path = st.text_input("Cohort folder or cohort file (.toml / .yaml)",
                             value="" if src == _state.DEMO else src, key="_w_cohort_path",
                             placeholder="/data/tcga_blca")
        if st.button("Use this cohort", key="use_cohort", type="primary"):
            try:
                _state.use_cohort(path)
                st.success(f"Cohort loaded: {path}")
            except InputError as err:
                _state.show_error(err)
    elif src != _state.DEMO:
        _state.use_cohort(_state.DEMO)
with right:
    st.subheader("Model")
    msrc = st.session_state["model_source"]
    mkind = st.radio("Model", ["Demo checkpoint", "My run / checkpoint"], index=0 if msrc == _state.DEMO else 1,
                     horizontal=True, key="_w_model_kind", label_visibility="collapsed")
    if mkind == "My run / checkpoint":
        mpath = st.text_input("Run folder, fold folder or model.safetensors",
                              value="" if msrc == _state.DEMO else msrc, key="_w_model_path",
                              placeholder="runs/my_run")
        if st.button("Use this model", key="use_model", type="primary"):
            try:
                _state.use_model(mpath)
                st.success(f"Model loaded: {mpath}")
            except InputError as err:
                _state.show_error(err)
    elif msrc != _state.DEMO:
        _state.use_model(_state.DEMO)

ctx = _state.require(need_model=False)
c = ctx.cohort
summary = c.summary()
st.subheader(f"Cohort: {summary.name}")
cols = st.columns(4)
cols[0].metric("Patients", summary.n_patients)
cols[1].metric("Slides", summary.n_slides)
cols[2].metric("Events", summary.n_events)
cols[3].metric("Censored", f"{100 * summary.censored_fraction:.1f} %")
st.table(summary.to_frame().set_index("item"))
if summary.issues:
    with st.expander(f"{len(summary.issues)} issue(s) found while loading"):
        st.markdown("\n".join(f"- {i}" for i in summary.issues))

st.subheader("Model and runtime")
try:
    loaded = _state.model()
except (InputError, ImportError) as err:
    _state.show_error(err)
    st.info("Choose another model above; the cohort views without predictions still work.")
    loaded = None
m1, m2 = st.columns(2)
m1.table(runtime_frame(loaded).set_index("item"))
if loaded is not None:
    m2.table(model_frame(loaded, c).set_index("item"))
    st.success("Ready. Open a page in the sidebar: Cohort survival, Patient, Transport map, Ablations, Train / evaluate.")
