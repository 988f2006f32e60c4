"""Train / evaluate: a cross-validated run in a background process, with live progress, curves and a Stop button."""

import time
from pathlib import Path

import streamlit as st

import _state
from memamba_core.app import jobs, progress_records, run_progress, run_summary, train_args
from memamba_core.app.text import md
from memamba_core.errors import InputError
from memamba_core.models.registry import choices, describe, model_names
from memamba_core.paths import cache_dir
from memamba_core.runs import RunPaths
from memamba_core.viz import training_curves_figure

st.title("Train / evaluate")
ctx = _state.require(need_model=False, complete=True)
root = Path(st.text_input("Runs folder", str(cache_dir() / "runs"), key="tr_root",
                          help="New runs are created here; jobs found here are listed below."))

with st.form("tr_form"):
    st.subheader(f"New cross-validated run on {md(ctx.cohort.name)}")
    c = st.columns(4)
    name = c[0].text_input("Run name", time.strftime("run-%Y%m%d-%H%M%S"), key="tr_name",
                           help="Letters, digits, -, _ and . only: the run is one folder inside the runs folder.")
    model = c[1].selectbox("Model", model_names(), key="tr_model", format_func=lambda m: f"{m}: {describe(m)}")
    modalities = c[2].selectbox("Modalities", choices("modalities"), key="tr_modalities")
    epochs = c[3].number_input("Epochs", 1, 200, 5, key="tr_epochs")
    c = st.columns(4)
    n_folds = c[0].number_input("Folds (when the cohort has no split files)", 2, 10, 5, key="tr_folds")
    lr = c[1].number_input("Learning rate", 1e-6, 1e-1, 2e-4, format="%.0e", key="tr_lr")
    seed = c[2].number_input("Seed", 0, 10_000, 0, key="tr_seed")
    d_model = c[3].selectbox("Model width (d)", [32, 64, 128, 256], index=1, key="tr_d")
    submitted = st.form_submit_button("Start training", type="primary")
if submitted:
    try:
        run_dir = root.expanduser().resolve() / jobs.check_run_name(name)
        args = train_args(_state.cohort_path(), run_dir, model=model, modalities=modalities, epochs=int(epochs),
                          n_folds=int(n_folds), lr=float(lr), seed=int(seed), d_model=int(d_model))
        job = jobs.start(args, run_dir, root=root)
        st.session_state["tr_job"] = job.run_dir
        st.success(f"Started (pid {job.pid}) → {md(job.run_dir)}")
    except (InputError, OSError) as err:
        _state.show_error(err)

found = jobs.find(root)
if not found:
    st.info(f"No runs started from the dashboard under {md(root)} yet.")
    st.stop()
labels = {j.run_dir: f"{Path(j.run_dir).name} — {jobs.state(j)}" for j in found}
cur = st.session_state.get("tr_job")
sel = st.selectbox("Run", list(labels), index=list(labels).index(cur) if cur in labels else 0,
                   format_func=labels.get, key="tr_sel")


def live(run_dir: str) -> None:
    job = jobs.load(run_dir)
    if job is None:
        st.info("This run's job record is gone or unreadable.")
        return
    status = jobs.state(job)
    if status == jobs.NOT_HERE:
        st.warning(f"pid {job.pid} is not a job this dashboard started (its token and start time do not match the "
                   "record): it is not shown as running and cannot be stopped from here.")
    run = RunPaths(run_dir)
    try:
        jobs.check_run_folder(root, run_dir, (run.progress, run.summary))
    except InputError as err:
        _state.show_error(err)
        return
    records = progress_records(run_dir)
    frac, msg = run_progress(records)
    st.progress(frac, text=f"{status} · {md(msg)}")
    a, b = st.columns([1, 5])
    if status == "running" and a.button("Stop", key="tr_stop", type="secondary"):
        try:
            jobs.stop(job)
        except InputError as err:
            _state.show_error(err)
        else:
            st.rerun()
    b.text(f"pid {job.pid} · {' '.join(job.cmd)}")
    if any(r.get("event") == "epoch" for r in records):
        st.plotly_chart(training_curves_figure(records), key="tr_curves")
    try:
        summary = run_summary(run_dir)
    except InputError as err:
        _state.show_error(err)
        summary = None
    if summary is not None:
        with st.expander("Run summary", expanded=status != "running"):
            st.json(summary)
    with st.expander("Log", expanded=status == "failed"):
        st.code(jobs.log_tail(job) or "(no output yet)", language=None)
    if status != "running" and summary is not None:
        st.caption("Load this run on Home (My run / checkpoint) to explore its predictions.")


job = jobs.load(sel)
running = job is not None and jobs.state(job) == "running"
st.fragment(run_every=2.0 if running else None)(live)(sel)
