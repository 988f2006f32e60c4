"""Maximum mean discrepancy with a multi-bandwidth Gaussian kernel.

MMD²(P, Q) = E k(x, x') + E k(y, y') − 2 E k(x, y) with
k(a, b) = Σ_σ exp(−‖a − b‖² / (2σ²)) summed over the bandwidths σ.

- biased (V-statistic, default): averages include i = j; always ≥ 0 and exactly
  0 when the two samples are the same multiset of points.
- unbiased (U-statistic): the diagonal terms of the within-sample averages are
  left out; unbiased for the population MMD², can be slightly negative, ≈ 0 for
  samples from one distribution; needs n, m ≥ 2.

It grows with any difference of the distributions a characteristic kernel sees
(a shift of the mean, a change of spread). Glossary: n, m sample sizes, d width.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import InputError

__all__ = ["mmd", "median_bandwidth"]

_DEFAULT_SCALES = (0.5, 1.0, 2.0)  # multiples of the median distance when no bandwidths are given


def median_bandwidth(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Median pairwise distance of the pooled sample (detached), at least 1e-3. x: (n, d), y: (m, d) → ()."""
    z = torch.cat([x, y]).detach()
    dist = torch.cdist(z, z)
    off = dist[~torch.eye(len(z), dtype=torch.bool, device=z.device)]
    return off.median().clamp_min(1e-3) if off.numel() else z.new_tensor(1.0)


def mmd(
    x: torch.Tensor,
    y: torch.Tensor,
    bandwidths: Sequence[float] | None = None,
    unbiased: bool = False,
) -> torch.Tensor:
    """MMD² between the samples x and y with a sum of Gaussian kernels.

    Args:
        x: (n, d) first sample.
        y: (m, d) second sample.
        bandwidths: kernel widths σ; None = the median heuristic σ_med × (0.5, 1, 2).
        unbiased: U-statistic (diagonals excluded) instead of the biased V-statistic.

    Returns:
        () MMD² estimate.

    Raises:
        InputError: mismatched widths, empty samples, non-positive bandwidths, or
        ``unbiased`` with a sample of fewer than 2 points.

    Example:
        >>> x = torch.randn(64, 4)
        >>> float(mmd(x, x))
        0.0
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise InputError(f"mmd needs (n, d) and (m, d) samples of one width, got {tuple(x.shape)} and {tuple(y.shape)}.")
    n, m = len(x), len(y)
    if n == 0 or m == 0:
        raise InputError("mmd needs non-empty samples.")
    if unbiased and (n < 2 or m < 2):
        raise InputError(f"the unbiased mmd needs at least 2 points per sample, got {n} and {m}.")
    if bandwidths is None:
        med = median_bandwidth(x, y)
        sigmas = [med * s for s in _DEFAULT_SCALES]
    else:
        if len(bandwidths) == 0 or any(not b > 0 for b in bandwidths):
            raise InputError(f"mmd bandwidths must be positive, got {list(bandwidths)}.")
        sigmas = [x.new_tensor(float(b)) for b in bandwidths]
    z = torch.cat([x, y])
    d2 = torch.cdist(z, z).pow(2)  # (n+m, n+m) squared distances
    k = sum(torch.exp(-d2 / (2 * s * s)) for s in sigmas)
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    if unbiased:
        exx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
        eyy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    else:
        exx, eyy = kxx.mean(), kyy.mean()
    return exx + eyy - 2 * kxy.mean()
