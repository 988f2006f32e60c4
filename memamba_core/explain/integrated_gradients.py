"""Integrated gradients (Sundararajan et al. 2017): attributions that add up to the change of the output.

For a scalar function f of inputs x and a baseline x′,
``IG_i = (x_i − x′_i) · ∫₀¹ ∂f/∂x_i (x′ + α (x − x′)) dα``, and (completeness)
``Σ_i IG_i = f(x) − f(x′)``. The integral is computed by Gauss–Legendre
quadrature on ``steps`` nodes, exact for polynomial paths of degree < 2·steps
and accurate for the smooth (or piecewise-smooth) networks used here;
:attr:`Attribution.delta` reports the completeness error so callers can check it.

Shapes: any input shape X (the attribution has the same shape), S quadrature steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..errors import InputError

__all__ = ["Attribution", "integrated_gradients"]


@dataclass(frozen=True)
class Attribution:
    """``values``: attribution per input (shape X); ``output``/``baseline_output``: f(x), f(x′);
    ``delta``: Σ values − (f(x) − f(x′)), the completeness error."""

    values: torch.Tensor
    output: float
    baseline_output: float
    delta: float


def integrated_gradients(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, baseline: torch.Tensor | None = None,
                         *, steps: int = 16) -> Attribution:
    """Integrated gradients of the scalar ``f`` at ``x`` against ``baseline`` (zeros by default).

    Args:
        f: maps an input of shape X to a 0-d tensor, differentiably (called ``steps`` + 2 times).
        x, baseline: inputs of the same shape X.
        steps: quadrature nodes (≥ 2).

    Raises:
        InputError: shapes differ, non-finite inputs, ``steps`` < 2, or ``f`` not scalar.
    """
    x = x.detach().float()
    b = torch.zeros_like(x) if baseline is None else baseline.detach().float()
    if b.shape != x.shape:
        raise InputError(f"integrated gradients: baseline shape {tuple(b.shape)} differs from input shape {tuple(x.shape)}.")
    if not (torch.isfinite(x).all() and torch.isfinite(b).all()):
        raise InputError("integrated gradients: the input or baseline has missing or infinite values.")
    if steps < 2:
        raise InputError(f"integrated gradients needs at least 2 steps, got {steps}.")
    nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [−1, 1]
    alphas, weights = (nodes + 1) / 2, weights / 2  # on [0, 1], weights sum to 1
    total = torch.zeros_like(x)
    for a, w in zip(alphas, weights):
        point = (b + float(a) * (x - b)).requires_grad_(True)
        out = f(point)
        if out.ndim != 0:
            raise InputError(f"integrated gradients: f must return a scalar, got shape {tuple(out.shape)}.")
        (grad,) = torch.autograd.grad(out, point)
        total += float(w) * grad
    values = (x - b) * total
    with torch.no_grad():
        fx, fb = float(f(x)), float(f(b))
    return Attribution(values=values, output=fx, baseline_output=fb, delta=float(values.sum()) - (fx - fb))
