"""Patient: who scored them, calibrated survival with intervals, risk group, genomics, slide and attention, PDF report."""

from functools import partial

import streamlit as st

import _cache_clinical
import _choice
import _drivers
import _patient_clinical
import _slide_workspace
import _state
from memamba_core.app import calibration_stamp, run_dir_of, survival_matrix
from memamba_core.app.text import md, md_join
from memamba_core.errors import InputError
from memamba_core.slides import attention_keys, to_numpy
from memamba_core.train.predict import skipped_note
from memamba_core.viz import contributions_figure, expert_weights_figure, survival_curve_figure

st.title("Patient")
ctx = _state.require(complete=True)
if note := skipped_note(ctx.preds):
    st.warning(note, icon="⚠️")
preds = ctx.preds.set_index("case_id")
case_id = _state.patient_picker(list(preds.index), help="Patients the model can score (sorted as in the cohort).")
try:
    out, bag = _state.patient_prediction(case_id)
except InputError as err:
    _state.show_error(err)
    st.stop()
p = ctx.cohort.patient(case_id)
st.caption(f"Patient {md(case_id)} · " + md_join(f"{k} {v}" for k, v in p.clinical.items() if v is not None))

cohort_path, cohort_stamp = _state.cohort_path(), _choice.selection().cohort_stamp
run_dir = str(run_dir_of(_state.model_path()))
cal_stamp = calibration_stamp(run_dir)
maps, clin = _patient_clinical.show(ctx, cohort_path, cohort_stamp, run_dir, cal_stamp, case_id)

if clin is not None:
    _drivers.show(cohort_path, cohort_stamp, run_dir, cal_stamp, case_id, clin.headline)

with st.expander("Details: raw model risk and the model's own step curve"):
    st.caption("Raw risk = −Σ S_k in model units (higher = earlier event): comparable within one fold model only, "
               "not a probability.")
    if clin is not None:
        st.dataframe(clin.risk_rows(), hide_index=True, key="risk_table")
        if clin.n_models > 1:
            st.caption(f"Spread across the {clin.n_models} fold models: raw risk {clin.spread[0]:.3f} to {clin.spread[1]:.3f}.")
    else:
        st.metric("Raw risk (chosen checkpoint)", f"{preds.loc[case_id, 'risk']:.3f}")
    t_end = float(preds["survival_months"].max())
    st.plotly_chart(survival_curve_figure(ctx.loaded.cuts, to_numpy(out.survival), survival_matrix(preds), t_end),
                    key="surv_plot")

if out.expert_weights or attention_keys(out.attention, "genomics/"):
    left, right = st.columns(2)
    with left:
        if out.expert_weights:
            st.plotly_chart(expert_weights_figure(out.expert_weights), key="expert_plot")
    with right:
        gkeys = attention_keys(out.attention, "genomics/")
        if gkeys and ctx.loaded.groups is not None:
            gk = st.selectbox("Genomic attention", gkeys, key="gen_key")
            a = to_numpy(out.attention[gk])
            share = a / a.sum() if a.sum() > 0 else a
            st.plotly_chart(contributions_figure(ctx.loaded.groups.names, share, value_label="share of attention"),
                            key="contrib_plot")
else:
    st.info("No genomic attention: this model or patient has no genomics.")

_slide_workspace.show(ctx, out, bag, case_id)

st.subheader("Report")
if maps is None or clin is None:
    st.caption("The PDF report needs the run's calibration and a patient the run can score (see above).")
else:
    st.download_button("Download the patient report (PDF, one page, research use only)",
                       partial(_cache_clinical.patient_pdf, cohort_path, cohort_stamp, run_dir, cal_stamp, case_id),
                       f"report_{case_id}.pdf", "application/pdf", key="dl_report",
                       help="Written when you click (a few seconds): identification, calibrated survival with its band, "
                       "horizons, risk group, the slide with attention, top patches, leading gene groups and genes, run and model.")
