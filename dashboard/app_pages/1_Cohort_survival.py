"""Cohort survival: Kaplan–Meier curves of predicted-risk groups, tests, C-index, filters, downloads."""

from functools import partial

import numpy as np
import streamlit as st

import _cache
import _choice
import _state
from memamba_core.app import (SEX_CHOICES, apply_filters, filter_options, held_out_default, scored_out_of_fold,
                              with_clinical)
from memamba_core.app.text import md
from memamba_core.errors import InputError
from memamba_core.survival.km import SCHEMES
from memamba_core.viz import format_p, km_figure

st.title("Cohort survival")
ctx = _state.require(need_model=False)
sel = _choice.selection()
try:
    oof = scored_out_of_fold(_state.run_file("oof_predictions"), ctx.cohort.case_ids())
except InputError as err:
    _state.show_error(err)
    oof = None
OOF, FOLD = "Cross-validated (out-of-fold)", "Loaded fold model"
sources = ([OOF] if oof is not None else []) + ([FOLD] if sel.cohort_complete else [])
if not sources:
    sel.wait("every slide of the demo cohort (this run has no out-of-fold predictions to show before)")

with st.sidebar:
    st.header("Patients")
    source = st.radio("Predictions", sources, key="km_source",
                      help="Out-of-fold: each patient scored by the fold model that did not train on it (honest). "
                           "Loaded fold model: one checkpoint scores everyone.")
    if source == FOLD:
        try:
            preds = _state.predictions()
        except InputError as err:
            _state.show_error(err)
            st.stop()
        from memamba_core.train.predict import skipped_note

        if note := skipped_note(preds):
            st.warning(note, icon="⚠️")
    else:
        preds = oof
    df = with_clinical(preds, ctx.cohort.clinical_frame())
    opts = filter_options(df)
    n_held = int((~df["in_training"]).sum())
    held = source == FOLD and st.toggle("Held-out patients only", value=held_out_default(df), key="km_held_out",
                                        help=f"{n_held} of {len(df)} patients were not used to train this model; "
                                             "risk groups of training patients look better than they are.")
    types = st.multiselect("Cancer type", opts["oncotree_code"], key="km_types") if "oncotree_code" in opts else None
    sites = st.multiselect("Site", opts["site"], key="km_sites") if "site" in opts else None
    age = None
    if "age" in opts and opts["age"][0] < opts["age"][1]:
        age = st.slider("Age", opts["age"][0], opts["age"][1], opts["age"], key="km_age")
    sex = st.radio("Sex", SEX_CHOICES, horizontal=True, key="km_sex") if "is_female" in opts else "all"
    if not sel.cohort_complete:
        st.caption("The loaded fold model's own predictions are offered once the demo's slides are built.")

sub = apply_filters(df, types, sites, age, sex, held_out_only=held)
st.caption(f"{len(sub)} patients ({int(sub['event'].sum())} events) · cohort {md(ctx.cohort.name)} · "
           f"{source}{': held-out patients only' if held else ''}")
if len(sub) < 4 or sub["event"].sum() == 0:
    st.warning("Too few patients or no events with these filters: loosen them to see survival curves.")
    st.stop()

c1, c2 = st.columns([1, 2])
scheme = c1.selectbox("Risk groups", SCHEMES, key="km_scheme",
                      format_func={"median": "Median split", "tertiles": "Tertiles", "quartiles": "Quartiles",
                                   "cutoff": "Custom cut-off"}.get)
cutoff = None
risk = sub["risk"].to_numpy(dtype=float)
if scheme == "cutoff":
    lo, hi = float(risk.min()), float(risk.max())
    cutoff = c2.slider("Risk cut-off", lo, hi if hi > lo else lo + 1e-6, float(np.median(risk)), key="km_cutoff",
                       format="%.3f", help="Patients with risk at or above the cut-off form the high-risk group.")

times = sub["survival_months"].to_numpy(dtype=float)
events = sub["event"].to_numpy(dtype=int)
try:
    res = _cache.km(times, events, risk, scheme, cutoff)
    ci = _cache.c_index(times, events, risk)
except InputError as err:
    _state.show_error(err)
    st.stop()

m = st.columns(4)
m[0].metric("C-index", f"{ci.value:.3f}", help=f"Harrell; {ci.level:.0%} bootstrap CI over {ci.n_boot} resamples")
m[1].metric("95 % CI", f"{ci.low:.3f} – {ci.high:.3f}")
m[2].metric("Log-rank", format_p(res.logrank_p))
hr = res.hazard_ratios
m[3].metric("Hazard ratio (highest vs lowest)", "n/a" if hr.empty else f"{hr['hr'].iloc[-1]:.2f}",
            help=None if hr.empty else f"95 % CI {hr['lower'].iloc[-1]:.2f}–{hr['upper'].iloc[-1]:.2f}, Cox p {hr['p'].iloc[-1]:.3g}")

st.plotly_chart(km_figure(res), key="km_plot", config={"displaylogo": False})
st.subheader("Per group")
st.dataframe(res.summary_frame().round(3), key="km_table", width="stretch")

out = sub.assign(risk_group=res.groups)
d1, d2 = st.columns(2)
d1.download_button("Download patients (CSV)", out.to_csv(index=False).encode(), f"{ctx.cohort.name}_risk_groups.csv",
                   "text/csv", key="dl_csv")
d2.download_button("Download KM plot (PNG)", partial(_cache.km_png, times, events, risk, scheme, cutoff),
                   f"{ctx.cohort.name}_km_{scheme}.png", "image/png", key="dl_png")
