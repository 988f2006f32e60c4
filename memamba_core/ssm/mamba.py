"""The Mamba block (Gu & Dao), weight-compatible with ``mamba_ssm``'s ``Mamba``.

Glossary: B batch, L length, d model width, E = expand·d inner width,
S state size, R = dt_rank (⌈d/16⌉), K_conv the conv kernel (4).

``state_dict`` keys and shapes are those of
``mamba_ssm.modules.mamba_simple.Mamba`` (in_proj, conv1d, x_proj, dt_proj,
A_log, D, out_proj), so weights move between the two. The forward is the one
of its reference (non-fused) path; the scan goes through
:func:`~memamba_core.ssm.selective_scan.selective_scan` and the causal conv
through ``causal_conv1d_fn`` when that is installed and the input is on CUDA,
else :func:`.conv.causal_conv1d_torch` (``F.conv1d`` with left padding, computed
channels-last). Same weights, whichever backend runs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from .conv import causal_conv1d_torch
from .scan_cuda import HAS_CAUSAL_CONV1D, causal_conv1d_cuda
from .selective_scan import resolve_backend, selective_scan

__all__ = ["Mamba"]


class Mamba(nn.Module):
    """Mamba block: (B, L, d) → (B, L, d).

    Args:
        d_model: d.
        d_state: S.
        d_conv: K_conv, the causal depthwise conv width.
        expand: E = expand · d.
        dt_rank: R, or ``"auto"`` for ⌈d/16⌉.
        dt_min, dt_max, dt_init_floor, dt_scale: Δ initialisation (as mamba_ssm).
        backend: scan backend, ``auto`` | ``reference`` | ``torch`` | ``cpu`` | ``cuda``
            (an attribute: may be changed after construction).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        dt_scale: float = 1.0,
        conv_bias: bool = True,
        bias: bool = False,
        backend: str = "auto",
    ):
        super().__init__()
        self.d_model = d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.backend = backend

        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv1d = nn.Conv1d(
            self.d_inner, self.d_inner, kernel_size=d_conv, groups=self.d_inner, padding=d_conv - 1, bias=conv_bias
        )
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        # Δ init: weight ~ U(±R^-1/2 · scale); bias = softplus⁻¹(Δ0), Δ0 log-uniform in [dt_min, dt_max]
        dt_init_std = self.dt_rank**-0.5 * dt_scale
        nn.init.uniform_(self.dt_proj.weight, -dt_init_std, dt_init_std)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_init_floor)
        inv_dt = dt + torch.log(-torch.expm1(-dt))
        with torch.no_grad():
            self.dt_proj.bias.copy_(inv_dt)
        self.dt_proj.bias._no_reinit = True
        # S4D-real init: A[e, s] = -(s + 1)
        A = repeat(torch.arange(1, d_state + 1, dtype=torch.float32), "s -> e s", e=self.d_inner)
        self.A_log = nn.Parameter(torch.log(A))
        self.A_log._no_weight_decay = True
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.D._no_weight_decay = True
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def _conv(self, x: torch.Tensor, use_kernel: bool) -> torch.Tensor:
        """Causal depthwise conv + SiLU. x: (B, L, E) → (B, L, E)."""
        if use_kernel:
            weight = rearrange(self.conv1d.weight, "e 1 k -> e k")
            x_bel = rearrange(x, "b l e -> b e l").contiguous()
            return rearrange(causal_conv1d_cuda(x_bel, weight, self.conv1d.bias, "silu"), "b e l -> b l e")
        return F.silu(causal_conv1d_torch(x, self.conv1d.weight, self.conv1d.bias))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden: (B, L, d) → (B, L, d).

        Activations stay channels-last (B, L, E) in memory; the scan receives
        (B, E, L) *views* of them, which the pure-PyTorch scan reads without copies.
        """
        backend = resolve_backend(self.backend, hidden.device, hidden.dtype)
        x, z = self.in_proj(hidden).chunk(2, dim=-1)  # (B, L, E) each
        x = self._conv(x, use_kernel=HAS_CAUSAL_CONV1D and hidden.is_cuda and backend == "cuda")
        x_dbl = self.x_proj(x)  # (B, L, R + 2S)
        dt, Bm, Cm = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = F.linear(dt, self.dt_proj.weight)  # (B, L, E); the bias goes in the scan
        A = -torch.exp(self.A_log.float())  # (E, S)
        y = selective_scan(
            rearrange(x, "b l e -> b e l"),
            rearrange(dt, "b l e -> b e l"),
            A,
            rearrange(Bm, "b l s -> b s l"),
            rearrange(Cm, "b l s -> b s l"),
            D=self.D.float(),
            z=rearrange(z, "b l e -> b e l"),
            delta_bias=self.dt_proj.bias.float(),
            delta_softplus=True,
            backend=backend,
        )  # (B, E, L)
        return self.out_proj(rearrange(y, "b e l -> b l e"))
