"""Home: choose the cohort and the model; the cohort summary, the model card and every problem between them."""

import streamlit as st

import _cache
import _choice
import _demo
import _state
from memamba_core.app import compatibility_problems, model_frame, runtime_frame, summary_metrics
from memamba_core.app.text import md
from memamba_core.errors import InputError

st.title("ME-Mamba survival dashboard")
st.caption(
    "Multimodal (whole-slide images + genomics) survival prediction with a multi-expert Mamba model. "
    "Research use only — not a diagnostic device."
)


def chooser(what: str, demo_label: str, mine_label: str, prompt: str, placeholder: str, use) -> None:
    """Demo or the user's own path for the session's ``<what>_source``; a bad path keeps the previous choice."""
    src = st.session_state[f"{what}_source"]
    kind = st.radio(what.capitalize(), [demo_label, mine_label], index=0 if src == _choice.DEMO else 1,
                    horizontal=True, key=f"_w_{what}_kind", label_visibility="collapsed")
    if kind == mine_label:
        path = st.text_input(prompt, value="" if src == _choice.DEMO else src, key=f"_w_{what}_path",
                             placeholder=placeholder)
        if st.button(f"Use this {what}", key=f"use_{what}", type="primary"):
            try:
                use(path)
                st.success(f"{what.capitalize()} chosen: {md(path)}")
            except InputError as err:
                _state.show_error(err)
    elif src != _choice.DEMO:
        use(_choice.DEMO)


left, right = st.columns(2)
with left:
    st.subheader("Cohort")
    chooser("cohort", "Demo cohort", "My cohort", "Cohort folder or cohort file (.toml / .yaml)", "/data/tcga_blca",
            _choice.use_cohort)
with right:
    st.subheader("Model")
    chooser("model", "Demo checkpoint", "My run / checkpoint", "Run folder, fold folder or its weights file",
            "runs/my_run", _choice.use_model)

sel = _choice.selection()  # after the choosers, which may change it
_demo.banner(sel.demo, sel.demo_model)

cohort = None
if sel.cohort_path is not None:
    try:
        cohort = _state.cohort()
    except InputError as err:
        _state.show_error(err)
if cohort is not None:
    summary = cohort.summary()
    st.subheader(f"Cohort: {md(summary.name)}")
    cols = st.columns(4)
    cols[0].metric("Patients", summary.n_patients)
    cols[1].metric("Slides", summary.n_slides)
    cols[2].metric("Events", summary.n_events)
    cols[3].metric("Censored", f"{100 * summary.censored_fraction:.1f} %")
    if not sel.cohort_complete:
        st.caption(f"Being built: pathology for {sel.demo.slides_done} of {sel.demo.n_slides} slides so far.")
    st.table(summary.to_frame().set_index("item"))
    if summary.issues:
        with st.expander(f"{len(summary.issues)} issue(s) found while loading"):
            st.markdown("\n".join(f"- {md(i)}" for i in summary.issues))

st.subheader("Model and runtime")
card = None
if sel.model_path is not None:
    try:
        card = _state.card()
    except InputError as err:
        _state.show_error(err)
        st.info("Choose another model above; the cohort views without predictions still work.")
if card is not None:
    problems = compatibility_problems(card, cohort) if cohort is not None and sel.cohort_complete else None
    m1, m2 = st.columns(2)
    m1.table(model_frame(card, problems).set_index("item"))
    with m2:
        try:
            headline = summary_metrics(_state.run_file("run_summary"))
        except InputError as err:
            _state.show_error(err)
            headline = {}
        for k, v in headline.items():
            st.metric(f"Run: {k}", v)  # keys are summary_metrics's own names
    for p in problems or ():
        st.warning(md(p), icon="⚠️")
    if sel.model_path in _cache.LOADED:
        st.table(runtime_frame(_state.model()).set_index("item"))
    elif st.button("Load the model now (device and scan backend)", key="load_model",
                   help="Pages that predict load it anyway; the first time in this server PyTorch is imported."):
        try:
            _state.model()
            st.rerun()
        except InputError as err:
            _state.show_error(err)
    else:
        st.caption("The model is loaded when a page needs it (Patient, Transport map, Ablations).")
    if problems == []:
        st.success("Ready. Open a page in the sidebar: Cohort survival, Patient, Transport map, Ablations, Train / evaluate.")
