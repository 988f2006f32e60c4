"""Discrete-time survival: time bins, hazards → survival → risk, and the NLL loss.

Glossary: B patients in a batch, K time bins (4 by default).

Risk sign convention (stated once, used everywhere in the project):
**higher risk = earlier event**. ``risk = -sum_k S_k``, the negative of the
expected number of bins survived, so a patient whose survival curve drops early
gets a higher risk. C-indices are computed with risk as the score.

Time bins follow the MCAT convention: the K-1 inner cut-points are the
quantiles of the *uncensored* survival times of the training split; the
outer bins are open-ended, so any time (validation, new patients) maps to a bin.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError

__all__ = [
    "bin_edges",
    "assign_bins",
    "hazards_from_logits",
    "survival_from_hazards",
    "risk_from_survival",
    "nll_loss",
]


def bin_edges(times: np.ndarray, censorship: np.ndarray, n_bins: int = 4) -> np.ndarray:
    """Inner cut-points of ``n_bins`` time bins: quantiles of uncensored times.

    Args:
        times: (P,) survival times in months of the training patients.
        censorship: (P,) 1 = censored, 0 = event.
        n_bins: K, the number of bins (≥ 1).

    Returns:
        (K-1,) increasing cut-points; bin k holds times in [cut[k-1], cut[k]).

    Raises:
        InputError: when the training patients have no event (all censored):
        bins cannot be placed and the loss has nothing to learn from.
    """
    times = np.asarray(times, dtype=float)
    censorship = np.asarray(censorship)
    if n_bins < 1:
        raise InputError(f"n_bins must be at least 1, got {n_bins}.")
    events = times[censorship == 0]
    if events.size == 0:
        raise InputError(
            f"All {times.size} training patients are censored: time bins need at least one event. "
            "Use folds that put events in every training split (stratified folds do)."
        )
    qs = np.linspace(0, 1, n_bins + 1)[1:-1]
    return np.quantile(events, qs)


def assign_bins(times: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """(P,) int64 bin index in [0, K) of each time, given the (K-1,) inner cut-points."""
    return np.searchsorted(np.asarray(cuts, dtype=float), np.asarray(times, dtype=float), side="right").astype(np.int64)


def hazards_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """h_k = sigmoid(logit_k): the probability of the event in bin k given survival to it. (…, K) → (…, K)."""
    return torch.sigmoid(logits)


def survival_from_hazards(hazards: torch.Tensor) -> torch.Tensor:
    """S_k = prod_{m≤k} (1 − h_m): probability of surviving past bin k. (…, K) → (…, K)."""
    return torch.cumprod(1.0 - hazards, dim=-1)


def risk_from_survival(survival: torch.Tensor) -> torch.Tensor:
    """risk = −sum_k S_k (higher = earlier event). (…, K) → (…)."""
    return -survival.sum(dim=-1)


def nll_loss(
    logits: torch.Tensor,
    bins: torch.Tensor,
    censorship: torch.Tensor,
    alpha: float = 0.0,
) -> torch.Tensor:
    """Discrete-time negative log-likelihood (MCAT ``NLLSurvLoss``), computed in log space.

    For a patient in bin y: an event contributes −log S_{y−1} − log h_y; a censored
    patient contributes −log S_y. ``alpha`` up-weights the uncensored term as in
    MCAT: loss = (1 − α)·nll + α·uncensored_nll.

    Args:
        logits: (B, K) raw scores.
        bins: (B,) int64 bin of each patient's time.
        censorship: (B,) 1 = censored, 0 = event.

    Returns:
        scalar mean loss.
    """
    bins = bins.long().view(-1, 1)
    c = censorship.to(logits.dtype).view(-1, 1)
    log_h = F.logsigmoid(logits)  # log h_k
    log_1mh = F.logsigmoid(-logits)  # log (1 − h_k)
    log_s = torch.cumsum(log_1mh, dim=1)  # log S_k
    log_s_pad = torch.cat([torch.zeros_like(log_s[:, :1]), log_s], dim=1)  # log S_{k-1}, S_{-1} = 1
    uncensored = -(1 - c) * (log_s_pad.gather(1, bins) + log_h.gather(1, bins))
    censored = -c * log_s_pad.gather(1, bins + 1)
    loss = (1 - alpha) * (censored + uncensored) + alpha * uncensored
    return loss.mean()
