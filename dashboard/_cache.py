"""The dashboard's st.cache_* wrappers of cohorts, models, slides and run-folder tables.

With :mod:`_cache_clinical` (the run's calibrated predictions) the only modules that cache.

Cohorts, models and open slides: ``st.cache_resource`` (one shared object per
key). Light results a page draws — run-folder tables, cohort predictions, one
patient's prediction (:class:`memamba_core.app.PatientResult`: arrays, no
feature bag), KM results, C-index bootstraps, thumbnails — ``st.cache_data``,
keyed by paths, a file ``stamp`` (so a rewritten file is read again) and the
inference switches as a sorted tuple. Nothing here runs at import.
"""

from __future__ import annotations

import dataclasses
import os

import streamlit as st

LOADED: set[str] = set()  # checkpoints loaded in this server process (Home shows their runtime)


def set_threads() -> None:
    """Torch CPU threads for the app's models: ``MEMAMBA_THREADS`` (default 1; see :func:`model`)."""
    import torch

    torch.set_num_threads(int(os.environ.get("MEMAMBA_THREADS", "1")))


@st.cache_resource(show_spinner="Loading the cohort…", max_entries=4)
def cohort(path: str, stamp: tuple):
    """The cohort at ``path``; ``stamp`` changes when its folder does (a demo being built)."""
    from memamba_core.data import load_cohort

    return load_cohort(path)


@st.cache_resource(show_spinner="Loading the model (the first time, PyTorch is imported: a few seconds)…", max_entries=4)
def model(path: str):
    """The checkpoint at ``path``, on CPU with ``MEMAMBA_THREADS`` torch threads (default 1).

    One thread: the app predicts one patient (a bag of a few hundred to thousands of
    patches) at a time, where extra threads gain little and, when another process holds a
    core (a training run started from the Train page), make inference 10-30x slower
    (measured: 104 demo patients in 2.6 s with 1 thread, 78 s with 2).
    """
    from memamba_core.train import load_checkpoint

    set_threads()
    loaded = load_checkpoint(path)
    LOADED.add(path)
    return loaded


@st.cache_data(show_spinner=False, max_entries=16)
def fold_card(path: str, stamp: tuple):
    """:func:`memamba_core.app.fold_card` (``stamp``: :func:`memamba_core.app.run_stamp` of the run)."""
    from memamba_core.app import fold_card as read

    return read(path)


@st.cache_data(show_spinner=False, max_entries=16)
def run_file(what: str, run_dir: str, stamp: tuple):
    """``what`` (``oof_predictions`` | ``run_summary`` | ``ablation_table``) of the run folder, via
    :mod:`memamba_core.app.run_files`."""
    from memamba_core.app import run_files

    return getattr(run_files, what)(run_dir)


def _switched(loaded, switches: dict):
    """``loaded`` with inference switches applied (same weights), or ``loaded`` itself when none."""
    if not switches:
        return loaded
    from memamba_core.models import with_switches

    return dataclasses.replace(loaded, model=with_switches(loaded.model, **switches))


@st.cache_data(show_spinner="Predicting the cohort…", max_entries=32)
def predictions(cohort_path: str, stamp: tuple, model_path: str, switch_items: tuple):
    """:func:`memamba_core.train.predict_cohort`: patients whose data cannot be read are left out and listed
    in ``attrs["skipped"]`` (kept through the cache's pickling; pages warn with ``skipped_note``)."""
    from memamba_core.train import predict_cohort

    return predict_cohort(_switched(model(model_path), dict(switch_items)), cohort(cohort_path, stamp))


@st.cache_data(show_spinner="Predicting the patient…", max_entries=64)
def patient(cohort_path: str, stamp: tuple, model_path: str, case_id: str, switch_items: tuple):
    """:class:`memamba_core.app.PatientResult` of one patient (light: arrays and the patch layout)."""
    from memamba_core.app import predict_patient_result

    return predict_patient_result(_switched(model(model_path), dict(switch_items)), cohort(cohort_path, stamp), case_id)


@st.cache_resource(show_spinner=False, max_entries=16)
def slide(path: str):
    """An open slide (cached per file)."""
    from memamba_core.slides import open_slide

    return open_slide(path)


@st.cache_data(show_spinner="Reading the slide thumbnail…", max_entries=32)
def thumbnail(path: str, max_side: int = 1024):
    return slide(path).thumbnail((max_side, max_side))


@st.cache_data(show_spinner=False, max_entries=64)
def km(times, events, risk, scheme: str, cutoff: float | None):
    """:func:`memamba_core.survival.km_groups`."""
    from memamba_core.survival import km_groups

    return km_groups(times, events, risk, scheme, cutoff)


@st.cache_data(show_spinner="Bootstrapping the C-index…", max_entries=64)
def c_index(times, events, risk, n_boot: int = 500):
    """Harrell's C-index with a seeded bootstrap CI (:func:`memamba_core.survival.c_index_ci`)."""
    from memamba_core.survival import c_index_ci

    return c_index_ci(times, events, risk, n_boot=n_boot)


@st.cache_data(show_spinner=False, max_entries=8)
def km_png(times, events, risk, scheme: str, cutoff: float | None) -> bytes:
    from memamba_core.viz import km_png as render

    return render(km(times, events, risk, scheme, cutoff))
