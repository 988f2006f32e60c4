"""Survival analysis: discrete-time bins and loss, metrics, Kaplan–Meier helpers.

Each sub-module is imported on first use of one of its names: ``discrete`` (torch;
what the models need), ``metrics`` (scikit-survival) and ``km`` (lifelines), so
importing a model does not pay for those libraries, nor a page that only shows
curves for torch.
"""

from .._lazy import lazy_getattr

_LAZY = {
    "discrete": ("assign_bins", "bin_edges", "hazards_from_logits", "nll_loss", "risk_from_survival", "survival_from_hazards"),
    "metrics": ("Estimate", "c_index_ci", "concordance", "integrated_brier", "ipcw_c_index", "time_dependent_auc"),
    "km": ("KMCurve", "KMResult", "hazard_ratios", "km_curve", "km_groups", "logrank", "number_at_risk", "risk_groups"),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = [
    *_LAZY["discrete"],
    *_LAZY["metrics"],
    *_LAZY["km"],
]

__getattr__ = lazy_getattr(__name__, _WHERE)


def __dir__():
    return sorted(__all__)
