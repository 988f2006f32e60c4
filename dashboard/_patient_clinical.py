"""The Patient page's clinical part: who scored the patient, calibrated survival at the horizons, risk group, median.

Streamlit only; the scoring and calibration are :mod:`memamba_core.app.clinical`'s.
"""

from __future__ import annotations

import streamlit as st

import _cache_clinical
import _state
from memamba_core.app import parse_horizons
from memamba_core.errors import InputError
from memamba_core.viz.prediction import prediction_figure


def show(ctx, cohort_path: str, cohort_stamp: tuple, run_dir: str, cal_stamp: tuple, case_id: str):
    """Draw the section; returns (fold → calibration map, or None; the patient's PatientClinical, or None)."""
    maps, no_cal = _cache_clinical.calibration(run_dir, cal_stamp)
    clin = None
    if maps is None:
        st.warning(f"No calibrated survival probabilities: {no_cal}", icon="⚠️")
        if st.button("Calibrate this run now (fits each fold's map on its training patients; about a minute)", key="calibrate_run"):
            from memamba_core.train.scoring import calibrate_and_store

            try:
                with st.spinner("Calibrating the run's fold models…"):
                    calibrate_and_store(run_dir, ctx.cohort)
            except InputError as err:
                _state.show_error(err)
            else:
                st.rerun()
    else:
        text = st.text_input("Horizons (months)", "", key="clin_horizons",
                             placeholder="automatic (1, 3, 5 years, or yearly inside the follow-up); e.g. 6, 12, 24", help="Survival horizons in months, separated by commas; empty: 1, 3 and 5 years where the "
                             "calibration's follow-up allows, else yearly horizons inside it.")
        try:
            horizons = parse_horizons(text)
            clin = _cache_clinical.patient_clinical(cohort_path, cohort_stamp, run_dir, cal_stamp, case_id, horizons)
        except InputError as err:
            _state.show_error(err)
            if text.strip():
                st.info("Showing the automatic horizons instead.")
                try:
                    clin = _cache_clinical.patient_clinical(cohort_path, cohort_stamp, run_dir, cal_stamp, case_id, None)
                except InputError as err2:
                    _state.show_error(err2)

    if clin is not None:
        pred = clin.prediction
        st.markdown(f"**{clin.headline}.**")
        first_h = min(pred.horizons)
        iv = pred.horizons[first_h]
        m = st.columns(4)
        m[0].metric("Risk group", pred.risk_group, help="Low / intermediate / high: the patient's percentile among the training "
                    "patients' honest scores, cut at the fixed tertiles 33⅓ and 66⅔ — never at the patients on screen.")
        m[1].metric("Percentile", f"{pred.percentile:.0f}th", help="Among the calibration patients (training patients of the "
                    "scoring fold, each scored by a model that did not train on them); higher = higher risk.")
        m[2].metric(f"Survival at {first_h:g} months", f"{100 * iv.value:.0f} %",
                    help=f"Interval {100 * iv.low:.0f}–{100 * iv.high:.0f} %: {pred.interval_kind}.")
        m[3].metric("Median survival", clin.median_short(), help=f"Median with its interval: {clin.median_text()}.")
        if clin.missing:
            st.info(f"Missing modality: {', '.join(clin.missing)}. The same model scored the patient from what is present. "
                    + (clin.missing_note or "The run has no ablation table to say how much accuracy that costs."))
        left, right = st.columns([3, 2])
        with left:
            st.plotly_chart(prediction_figure(pred, _cache_clinical.cohort_km(cohort_path, cohort_stamp),
                                              title="Calibrated survival (monthly) against the cohort's Kaplan–Meier curve"),
                            key="clin_plot")
        with right:
            st.dataframe(clin.horizon_rows(), hide_index=True, key="horizons_table")
            st.caption(f"Median survival: {clin.median_text()}. Intervals and band: {pred.interval_kind}. "
                       f"Horizons up to {pred.follow_up:.0f} months, the follow-up the calibration supports"
                       + (f" ({', '.join(f'{h:g}' for h in pred.skipped_horizons)} months lie beyond it)." if pred.skipped_horizons else ".")
                       + f" Calibration: Cox/Breslow on the model's scale-free score, fitted on {clin.calibration}.")
            st.caption(f"Observed: {clin.observed[0]:.1f} months, {'event' if clin.observed[1] else 'censored'}.")
    return maps, clin
