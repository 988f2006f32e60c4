"""Elastic-net Cox (scikit-survival ``CoxnetSurvivalAnalysis``) with its penalty chosen by inner CV.

Glossary: P patients, C columns (genes, or encoded clinical variables), A penalties on the path.

The leaderboard's linear baseline (a benchmark model, not a torch
:class:`~memamba_core.models.base.SurvivalModel`: it has no checkpoint and is not
served by the dashboard; the registry lists it among ``choices("benchmark_model")``).
:meth:`ElasticNetCox.fit` sees the training patients only:

1. columns are standardised on the training patients (NaN → the training mean);
2. for each ``l1_ratio`` the penalty path (``n_alphas`` values down to
   ``alpha_min_ratio`` × the largest) is computed on the training patients;
3. the training patients are cut into ``n_inner`` stratified inner folds
   (:func:`memamba_core.data.splits.make_folds`, the same rule the nested neural
   selection uses); every (l1_ratio, alpha) is fitted on each inner training part
   and scored by Harrell's C-index on its inner held-out part;
4. the best mean inner C-index wins (ties: the larger penalty, i.e. the sparser
   model); it is refitted on all training patients with a Breslow baseline.

Example::

    m = ElasticNetCox(n_inner=3).fit(X_train, time_train, event_train)
    risk = m.predict_risk(X_val)                 # (P,) higher = earlier event
    surv = m.predict_survival(X_val, [6, 12])    # (P, 2) S(t)
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError

__all__ = ["ElasticNetCox", "standardise"]


def standardise(X_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Columns standardised with the training rows' mean/std (NaN-aware; NaN → 0; constant → 0)."""
    X_train = np.asarray(X_train, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(X_train, axis=0)
        std = np.nanstd(X_train, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    return [np.nan_to_num((np.asarray(X, dtype=np.float64) - mean) / std, nan=0.0) for X in (X_train, *others)]


def _surv(time, event):
    from sksurv.util import Surv

    return Surv.from_arrays(event=np.asarray(event, bool), time=np.asarray(time, float))


def _check(X, time, event) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    t, e = np.asarray(time, dtype=np.float64).reshape(-1), np.asarray(event).astype(bool).reshape(-1)
    if X.ndim != 2 or X.shape[0] != t.size or t.size != e.size:
        raise InputError(f"elastic-net Cox: X must be (P, C) with P = {t.size} times and events, got {X.shape}.")
    if X.shape[1] == 0:
        raise InputError("elastic-net Cox: no columns to fit on; the cohort needs genomic (or clinical) columns.")
    if not np.isfinite(t).all() or (t < 0).any():
        raise InputError("elastic-net Cox: survival times must be finite and ≥ 0.")
    if np.isinf(X).any():
        raise InputError("elastic-net Cox: X holds infinite values; only finite numbers (or NaN for missing) are accepted.")
    if not e.any():
        raise InputError("elastic-net Cox: all training patients are censored; a Cox model needs events.")
    return X, t, e


class ElasticNetCox:
    """Elastic-net Cox with (l1_ratio, alpha) chosen on inner folds of the training patients.

    Learned state: ``l1_ratio_``, ``alpha_``, ``inner_scores_`` ({"l1=…, alpha=…": {"mean", "inner"}}),
    ``chosen_`` (its key), ``n_nonzero_`` (coefficients ≠ 0 of the refit).
    """

    def __init__(self, *, l1_ratios=(0.1, 0.5, 0.9), n_alphas: int = 20, alpha_min_ratio: float = 0.05,
                 n_inner: int = 3, seed: int = 0, max_iter: int = 100_000):
        if n_inner < 2 or n_alphas < 1 or not l1_ratios or not all(0 < r <= 1 for r in l1_ratios):
            raise InputError("elastic-net Cox: n_inner must be ≥ 2, n_alphas ≥ 1 and every l1_ratio in (0, 1].")
        self.l1_ratios = tuple(float(r) for r in l1_ratios)
        self.n_alphas, self.alpha_min_ratio, self.n_inner, self.seed, self.max_iter = n_alphas, alpha_min_ratio, n_inner, seed, max_iter

    def _model(self, l1_ratio: float, alphas=None, baseline: bool = False):
        from sksurv.linear_model import CoxnetSurvivalAnalysis

        kw = {"alphas": alphas} if alphas is not None else {"n_alphas": self.n_alphas, "alpha_min_ratio": self.alpha_min_ratio}
        return CoxnetSurvivalAnalysis(l1_ratio=l1_ratio, fit_baseline_model=baseline, max_iter=self.max_iter,
                                      normalize=False, **kw)

    def _path(self, X, y, l1_ratio: float) -> np.ndarray | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return np.asarray(self._model(l1_ratio).fit(X, y).alphas_, dtype=np.float64)
        except (ArithmeticError, ValueError):
            return None

    def fit(self, X, time, event) -> "ElasticNetCox":
        """Choose (l1_ratio, alpha) on inner folds of these (training) patients, then refit on all of them."""
        from sksurv.metrics import concordance_index_censored

        from ..data.splits import make_folds

        X, t, e = _check(X, time, event)
        (Z,) = standardise(X)
        y = _surv(t, e)
        ids = [str(i) for i in range(t.size)]
        inner = [(np.array([int(i) for i in s.train]), np.array([int(i) for i in s.val]))
                 for s in make_folds(ids, e, self.n_inner, self.seed)]
        scores: dict[str, dict] = {}
        best = (-np.inf, None, None)
        for r in self.l1_ratios:
            alphas = self._path(Z, y, r)
            if alphas is None:
                continue
            per = np.full((len(inner), alphas.size), np.nan)
            for j, (tr, va) in enumerate(inner):
                if not e[tr].any() or not e[va].any():
                    continue
                Ztr, Zva = standardise(X[tr], X[va])
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        m = self._model(r, alphas).fit(Ztr, y[tr])
                except (ArithmeticError, ValueError):
                    continue
                for a in m.alphas_:
                    risk = m.predict(Zva, alpha=a)
                    per[j, int(np.argmin(np.abs(alphas - a)))] = concordance_index_censored(e[va], t[va], risk)[0]
            for a_i, a in enumerate(alphas):  # path order: largest penalty first, so ties keep the sparser model
                col = per[:, a_i]
                mean = float(np.nanmean(col)) if np.isfinite(col).any() else None
                key = f"l1_ratio={r:g}, alpha={a:.4g}"
                scores[key] = {"mean": mean, "inner": [None if not np.isfinite(c) else float(c) for c in col]}
                if mean is not None and mean > best[0]:
                    best = (mean, r, a_i)
        if best[1] is None:
            raise InputError("elastic-net Cox: no penalty could be scored on the inner folds (too few events per "
                             "inner fold, or the fits did not converge); use fewer inner folds.")
        _, r, a_i = best
        alphas = self._path(Z, y, r)
        self._X_train = X
        self.model_ = self._model(r, alphas[: a_i + 1], baseline=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_.fit(Z, y)
        self.l1_ratio_, self.alpha_ = r, float(self.model_.alphas_[-1])
        self.inner_scores_ = scores
        self.chosen_ = f"l1_ratio={r:g}, alpha={alphas[a_i]:.4g}"
        self.n_nonzero_ = int(np.count_nonzero(self.model_.coef_[:, -1]))
        return self

    def _z(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self._X_train.shape[1]:
            raise InputError(f"elastic-net Cox: X must have {self._X_train.shape[1]} columns, got shape {X.shape}.")
        return standardise(self._X_train, X)[1]

    def predict_risk(self, X) -> np.ndarray:
        """(P,) linear predictor x·β (higher = earlier event)."""
        return np.asarray(self.model_.predict(self._z(X), alpha=self.alpha_), dtype=np.float64)

    def predict_survival(self, X, times) -> np.ndarray:
        """(P, T) S(t | x) at ``times`` (Breslow baseline of the training patients; beyond the last
        training time the last value)."""
        fns = self.model_.predict_survival_function(self._z(X), alpha=self.alpha_)
        times = np.asarray(times, dtype=np.float64)
        out = np.empty((len(fns), times.size))
        for i, fn in enumerate(fns):
            tt = np.clip(times, fn.domain[0], fn.domain[1])
            out[i] = fn(tt)
        return np.clip(out, 0.0, 1.0)
