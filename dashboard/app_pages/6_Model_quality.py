"""Model quality: the run's out-of-fold calibration and discrimination, and what the model adds over clinical variables."""

import streamlit as st

import _cache_clinical
import _choice
import _state
from memamba_core.app import calibration_stamp, run_dir_of
from memamba_core.errors import InputError
from memamba_core.viz.calibration import brier_figure, c_index_figure, calibration_figure, ibs_gain_figure, td_auc_figure
from memamba_core.viz.forest import forest_figure

st.title("Model quality")
st.caption("Every number here is out-of-fold: each patient scored by the fold model that did not train on them, and "
           "calibrated by that fold's map, fitted on training patients of the fold only.")
ctx = _state.require(need_model=False, complete=True)
cohort_path, cohort_stamp = _state.cohort_path(), _choice.selection().cohort_stamp
try:
    run_dir = str(run_dir_of(_state.model_path()))
except InputError as err:
    _state.show_error(err)
    st.stop()
stamp = calibration_stamp(run_dir)
maps, why = _cache_clinical.calibration(run_dir, stamp)
if maps is None:
    st.warning(f"No calibration to assess: {why}", icon="⚠️")
    st.stop()
try:
    q = _cache_clinical.model_quality(cohort_path, cohort_stamp, run_dir, stamp)
except InputError as err:
    _state.show_error(err)
    st.stop()
for note in q.notes:
    st.caption(note)

mean = q.brier.loc["mean"]
m = st.columns(4)
m[0].metric("IBS, calibrated model", f"{mean['ibs_model']:.3f}", help="Integrated Brier score, mean over folds (lower is better).")
m[1].metric("IBS, Kaplan–Meier null", f"{mean['ibs_km']:.3f}", help="The training patients' KM curve given to everyone.")
folds = q.brier.drop(index="mean")
verdicts = folds["vs_km"].value_counts()
m[2].metric("Folds better than KM", f"{int((folds['ibs_gain'] > 0).sum())} of {len(folds)}",
            help=f"IBS below the null's. With a 95 % paired bootstrap over each fold's patients: {verdicts.get('better', 0)} "
                 f"clearly better, {verdicts.get('worse', 0)} clearly worse, {verdicts.get('within noise', 0)} within noise; "
                 f"the mean over folds: {mean['vs_km']}.")
m[3].metric("C-index (pooled)", f"{q.c_index.value:.3f}", help=f"{q.c_index.level:.0%} bootstrap CI "
            f"{q.c_index.low:.3f}–{q.c_index.high:.3f} ({q.c_index.n_boot} resamples), on the scale-free scores.")

st.subheader("Calibration by risk quintile")
st.caption(f"At {', '.join(f'{h:g}' for h in q.horizons)} months: each risk group's mean predicted survival against its "
           "observed Kaplan–Meier survival (95 % CI). Groups are quintiles of the out-of-fold percentile.")
st.plotly_chart(calibration_figure(q.calibration), key="mq_calibration")
with st.expander("Calibration table"):
    st.dataframe(q.calibration.round(3), hide_index=True, key="mq_cal_table")

left, right = st.columns(2)
with left:
    st.plotly_chart(brier_figure(q.brier), key="mq_brier")
with right:
    times, auc, mean_auc = q.auc
    st.plotly_chart(td_auc_figure(times, auc, mean_auc), key="mq_auc")
left, right = st.columns(2)
with left:
    st.plotly_chart(ibs_gain_figure(q.brier), key="mq_gain")
with right:
    st.plotly_chart(c_index_figure(q.per_fold_c, q.c_index), key="mq_cindex")
st.caption("A fold of a few dozen patients rarely tells a calibrated model from the Kaplan–Meier null: an interval "
           "holding 0 means these patients cannot tell them apart.")
with st.expander("Per-fold table"):
    st.dataframe(q.brier.reset_index().astype({"fold": str}).round(4), hide_index=True, key="mq_brier_table")

st.subheader("Added value over clinical variables")
if q.cox is None:
    st.info(f"No multivariable Cox model: {q.cox_message}")
else:
    st.caption(f"Multivariable Cox (lifelines) of the out-of-fold score (per SD) with {', '.join(q.cox.variables)}: "
               f"likelihood-ratio test of adding the score p = {q.cox.lr_p:.3g}; C-index clinical only "
               f"{q.cox.c_clinical:.3f} → with the score {q.cox.c_full:.3f} (in-sample).")
    st.plotly_chart(forest_figure(q.cox), key="mq_forest")
    st.dataframe(q.cox.table.reset_index().round(4), hide_index=True, key="mq_cox_table")
    for note in q.cox.notes:
        st.caption(note)
st.caption(f"Calibration: Cox/Breslow on the model's scale-free score, fitted on {q.source}.")
