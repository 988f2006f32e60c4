"""Every st.cache_* wrapper of the dashboard (the only module that caches).

Cohorts, models and open slides: ``st.cache_resource`` (one shared object per
path). Predictions, KM results, C-index bootstraps, thumbnails:
``st.cache_data`` keyed by cohort path, model path and the inference switches
(as a sorted tuple) — a rerun never recomputes them.
"""

from __future__ import annotations

import dataclasses
import os

import pandas as pd
import streamlit as st
import torch

# One torch thread by default: the app predicts one patient (a bag of a few hundred to
# thousands of patches) at a time, where extra threads gain little and, when another
# process holds a core (a training run started from the Train page), make inference
# 10-30x slower (measured: 104 demo patients in 2.6 s with 1 thread, 78 s with 2).
torch.set_num_threads(int(os.environ.get("MEMAMBA_THREADS", "1")))


@st.cache_resource(show_spinner="Loading cohort…", max_entries=4)
def cohort(path: str):
    from memamba_core.data import load_cohort

    return load_cohort(path)


@st.cache_resource(show_spinner="Loading model…", max_entries=4)
def model(path: str):
    from memamba_core.train import load_checkpoint

    return load_checkpoint(path)


def switched(loaded, switches: dict):
    """``loaded`` with inference switches applied (same weights), or ``loaded`` itself when none."""
    if not switches:
        return loaded
    from memamba_core.models import with_switches

    return dataclasses.replace(loaded, model=with_switches(loaded.model, **switches))


@st.cache_data(show_spinner="Predicting the cohort…", max_entries=32)
def predictions(cohort_path: str, model_path: str, switch_items: tuple) -> pd.DataFrame:
    from memamba_core.train import predict_cohort

    return predict_cohort(switched(model(model_path), dict(switch_items)), cohort(cohort_path))


@st.cache_data(show_spinner=False, max_entries=64)
def patient(cohort_path: str, model_path: str, case_id: str, switch_items: tuple):
    from memamba_core.train import predict_patient

    return predict_patient(switched(model(model_path), dict(switch_items)), cohort(cohort_path), case_id)


@st.cache_data(show_spinner=False, max_entries=8)
def csv(path: str, mtime: float) -> pd.DataFrame:
    """A CSV with string case ids (``mtime`` in the key: a rewritten file is read again)."""
    return pd.read_csv(path, dtype={"case_id": str})


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
