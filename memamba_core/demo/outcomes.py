"""Survival of the demo cohort from a known proportional hazard.

``log_hazard = β_hg · z(high-grade fraction) + β_tumour · z(tumour fraction) + Σ_p β_p · a_p
+ β_type · type + β_age · z(age)``
with ``z`` standardised over the cohort, :data:`~memamba_core.demo.genomics.RISK_COEFS` for
the pathways. Event time ``T ~ Exponential(λ0 · exp(log_hazard))`` (months), censoring time
``C ~ Uniform(0, c_max)`` with ``c_max`` set so that a target fraction of patients is
censored; ``survival_months = min(T, C)``, ``censorship = 1`` when ``C < T``. Higher
log-hazard = earlier event, the project's risk convention.

The slide's risk-driving tissue is its high-grade tumour (high-grade patches / tissue patches;
0 for the patients without a high-grade component): a model must find those few patches
among the rest, which is what the Pathology Expert's attention is checked on. The plain
tumour fraction carries no risk by default (``tumour = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .genomics import RISK_COEFS

__all__ = ["HazardModel", "draw_survival"]


@dataclass(frozen=True)
class HazardModel:
    """Coefficients of the true log-hazard (see module doc)."""

    high_grade: float = 1.0       # per SD of the slide's high-grade fraction (high-grade patches / tissue patches)
    tumour: float = 0.0           # per SD of the slide's tumour fraction (tumour patches / tissue patches)
    cancer_type: float = 0.25     # second cancer type vs first
    age: float = 0.15             # per SD of age
    median_months: float = 30.0   # median event time at log_hazard = 0
    censored: float = 0.5         # target censored fraction (40–60 % asked)

    def to_dict(self) -> dict:
        return {
            "high_grade_fraction_per_sd": self.high_grade, "tumour_fraction_per_sd": self.tumour, "cancer_type": self.cancer_type, "age_per_sd": self.age,
            "pathways_per_sd": dict(RISK_COEFS), "median_months_at_zero": self.median_months,
            "target_censored": self.censored,
        }


def _z(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / (v.std() + 1e-12)


def draw_survival(seed: int, high_grade_fraction: np.ndarray, tumour_fraction: np.ndarray, activity: pd.DataFrame,
                  types: np.ndarray, age: np.ndarray, model: HazardModel = HazardModel()) -> pd.DataFrame:
    """Per patient: ``log_hazard``, ``event_months``, ``censor_months``, ``survival_months``, ``censorship``."""
    rng = np.random.default_rng([seed, 20])
    eta = (model.high_grade * _z(np.asarray(high_grade_fraction, float)) + model.tumour * _z(np.asarray(tumour_fraction, float))
           + model.cancer_type * types + model.age * _z(age))
    for name, b in RISK_COEFS.items():
        eta = eta + b * activity[name].to_numpy()
    lam = np.log(2) / model.median_months * np.exp(eta)
    T = rng.exponential(1.0, len(eta)) / lam
    u = rng.random(len(eta))
    lo, hi = 1e-3, 1e4  # c_max by bisection on the realised draws: censored fraction decreases in c_max
    for _ in range(80):
        mid = np.sqrt(lo * hi)
        if np.mean(u * mid < T) > model.censored:
            lo = mid
        else:
            hi = mid
    C = u * hi
    surv = np.maximum(np.minimum(T, C), 0.1)
    return pd.DataFrame({
        "log_hazard": eta, "event_months": T, "censor_months": C,
        "survival_months": np.round(surv, 2), "censorship": (C < T).astype(int),
    })
