"""The st.cache_* wrappers of the run's calibrated predictions (:mod:`memamba_core.app.clinical`).

With :mod:`_cache` (cohorts, models, slides, run-folder tables) the only modules that cache.
``stamp`` is the run's :func:`memamba_core.app.calibration_stamp`, ``cohort_stamp`` the
cohort folder's stamp (as for :func:`_cache.cohort`). Nothing here runs at import.
"""

from __future__ import annotations

import streamlit as st

from _cache import cohort, set_threads


@st.cache_resource(show_spinner="Loading the run's fold models…", max_entries=2)
def run_models(run_dir: str, stamp: tuple):
    """Every finished fold model of the run (:class:`memamba_core.train.scoring.RunModels`), ``MEMAMBA_THREADS`` threads."""
    from memamba_core.train.scoring import RunModels

    set_threads()
    return RunModels.load(run_dir)


@st.cache_data(show_spinner=False, max_entries=8)
def calibration(run_dir: str, stamp: tuple):
    """(fold → calibration map or None, why there is none): :func:`memamba_core.app.run_calibration`."""
    from memamba_core.app import run_calibration

    return run_calibration(run_dir)


@st.cache_data(show_spinner="Scoring the patient with the fold model(s) that did not train on them…", max_entries=64)
def patient_clinical(cohort_path: str, cohort_stamp: tuple, run_dir: str, stamp: tuple, case_id: str,
                     horizons: tuple | None = None):
    """:class:`memamba_core.app.PatientClinical` of one patient (``horizons``: months, None = the page's default)."""
    from memamba_core.app import patient_clinical as score

    maps, _ = calibration(run_dir, stamp)
    return score(run_models(run_dir, stamp), cohort(cohort_path, cohort_stamp), maps, case_id, horizons=horizons)


@st.cache_data(show_spinner="Explaining the patient's risk (modalities, patches, integrated gradients on the genes)…",
               max_entries=64)
def patient_drivers(cohort_path: str, cohort_stamp: tuple, run_dir: str, stamp: tuple, case_id: str):
    """:class:`memamba_core.explain.Drivers` of one patient under the model(s) that score them."""
    from memamba_core.app import patient_drivers as drivers

    maps, _ = calibration(run_dir, stamp)
    return drivers(run_models(run_dir, stamp), cohort(cohort_path, cohort_stamp), maps, case_id)


@st.cache_data(show_spinner="Writing the PDF report…", max_entries=16)
def patient_pdf(cohort_path: str, cohort_stamp: tuple, run_dir: str, stamp: tuple, case_id: str) -> bytes:
    """The patient's one-page PDF (:func:`memamba_core.app.patient_report_pdf`)."""
    from memamba_core.app import patient_report_pdf

    maps, _ = calibration(run_dir, stamp)
    return patient_report_pdf(run_models(run_dir, stamp), cohort(cohort_path, cohort_stamp), maps, case_id)


@st.cache_data(show_spinner="Computing the out-of-fold calibration and discrimination…", max_entries=4)
def model_quality(cohort_path: str, cohort_stamp: tuple, run_dir: str, stamp: tuple):
    """:class:`memamba_core.app.QualityViews` of the run."""
    from memamba_core.app import model_quality as views

    maps, _ = calibration(run_dir, stamp)
    return views(run_dir, cohort(cohort_path, cohort_stamp), maps)


@st.cache_data(show_spinner=False, max_entries=4)
def cohort_km(cohort_path: str, cohort_stamp: tuple):
    """The cohort's Kaplan–Meier curve (:func:`memamba_core.app.cohort_km`)."""
    from memamba_core.app import cohort_km as km_of

    return km_of(cohort(cohort_path, cohort_stamp))
