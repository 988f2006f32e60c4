"""The Pathology and Genomics Experts: residual layers of three Mamba scan branches.

Glossary: L tokens (N patches or G genomic tokens), d width.

One layer, for tokens x (L, d) and the branches switched on::

    forward : Mamba(x)
    reverse : flip(Mamba(flip(x)))                     (with forward: BiMamba)
    ranked  : s = scorer(x); order = argsort(s, descending)
              r = Mamba((x ⊙ sigmoid(s))[order]);  out[order] = r
    x ← LayerNorm(x + Σ_branches out)

The ranked branch's outputs are scattered back to the original token order, so
the layer is permutation-equivariant in that branch. The scorer (gated ABMIL)
cannot learn through ``argsort``; it learns through the sigmoid gate on the
tokens it ranks. The expert ends with gated attention pooling.

Activation checkpointing (:func:`set_activation_checkpointing`, the trainer's
``TrainConfig.activation_checkpointing``): with autograd on, each layer keeps only
its input and recomputes its branches in backward (``torch.utils.checkpoint``,
non-reentrant). A layer has no dropout, so the recomputation is exact: same
values and gradients, and the (L, E) intermediates of the three Mamba branches
are not held from forward to backward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..ssm import Mamba
from ..ssm.inference import STREAMED_BACKENDS, mamba_stream_
from ..ssm.selective_scan import resolve_backend
from .layers import GatedAttention, rowwise

__all__ = ["ScanLayer", "UnimodalExpert", "ExpertOutput", "BRANCHES", "set_activation_checkpointing"]

BRANCHES = ("forward", "reverse", "ranked")


@dataclass
class ExpertOutput:
    """tokens (L, d); pooled (d,); attention: branch name → (L,) weights summing to 1 (a batch adds a leading B)."""

    tokens: torch.Tensor
    pooled: torch.Tensor
    attention: dict[str, torch.Tensor]


def _mamba(d: int, d_state: int, d_conv: int, expand: int) -> Mamba:
    return Mamba(d, d_state=d_state, d_conv=d_conv, expand=expand)


class ScanLayer(nn.Module):
    """One residual layer of scan branches. (L, d) → (L, d), or batched (B, L, d) → (B, L, d).

    Args:
        d, d_state, d_conv, expand: Mamba sizes.
        kinds: the branches this layer owns (a subset of :data:`BRANCHES`).
    """

    def __init__(self, d: int, d_state: int, d_conv: int, expand: int, kinds: tuple[str, ...] = BRANCHES):
        super().__init__()
        self.mambas = nn.ModuleDict({f"scan_{k}": _mamba(d, d_state, d_conv, expand) for k in kinds})
        self.scorer = GatedAttention(d) if "ranked" in kinds else None
        self.norm = nn.LayerNorm(d)
        self.branches: tuple[str, ...] = tuple(kinds)  # switched on (set by the model's config)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (L, d) or a batch (B, L, d) → (new tokens, same shape; ranked-branch softmax scores (L,) / (B, L) or None).

        Without autograd on the pure-PyTorch backend one patient's branches are
        streamed (:func:`~memamba_core.ssm.inference.mamba_stream_`): same maths, summed
        into one buffer, no whole-sequence flips, gathers or (L, E) intermediates.
        """
        if x.ndim == 2 and not torch.is_grad_enabled() and all(
            resolve_backend(self.mambas[f"scan_{k}"].backend, x.device, x.dtype) in STREAMED_BACKENDS
            for k in self.branches
        ):
            return self._forward_streamed(x)
        seq = x if x.ndim == 3 else x[None]  # (B, L, d); one patient is B = 1
        out = torch.zeros_like(seq)
        ranked_weights = None
        for kind in self.branches:
            mamba = self.mambas[f"scan_{kind}"]
            if kind == "forward":
                out = out + mamba(seq)
            elif kind == "reverse":
                out = out + mamba(seq.flip(1)).flip(1)
            else:
                scores = self.scorer.scores(seq)  # (B, L)
                order = torch.argsort(scores, dim=-1, descending=True, stable=True)[..., None].expand_as(seq)
                gated = seq * torch.sigmoid(scores)[..., None]
                ranked = mamba(gated.gather(1, order))  # (B, L, d), sorted order
                out = out + torch.empty_like(ranked).scatter(1, order, ranked)
                ranked_weights = torch.softmax(scores, dim=-1)
        new = self.norm(seq + out)
        if x.ndim == 2:
            return new[0], None if ranked_weights is None else ranked_weights[0]
        return new, ranked_weights

    def _forward_streamed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The no-grad forward: x (L, d) → as :meth:`forward`, with one (L, d) buffer besides x.

        The branches sum into ``out``; the ranked branch's gate is applied piece by piece
        inside the stream; the residual is added in place and the LayerNorm written back
        into the same buffer (in pieces for a long bag).
        """
        out = torch.zeros_like(x)
        ranked_weights = None
        for kind in self.branches:
            mamba = self.mambas[f"scan_{kind}"]
            if kind == "forward":
                mamba_stream_(mamba, x, out)
            elif kind == "reverse":
                mamba_stream_(mamba, x, out, "reverse")
            else:
                scores = self.scorer.scores(x)  # (L,)
                order = torch.argsort(scores, descending=True, stable=True)
                mamba_stream_(mamba, x, out, order, scale=torch.sigmoid(scores))
                ranked_weights = torch.softmax(scores, dim=0)
        out += x
        return rowwise(self.norm, out, out=out), ranked_weights


class UnimodalExpert(nn.Module):
    """Pathology or Genomics Expert: ``n_layers`` :class:`ScanLayer` + attention pooling.

    (L, d) tokens → :class:`ExpertOutput` with attention keys ``"ranked"`` (when
    that branch is on; last layer's scorer) and ``"pool"``.
    """

    def __init__(self, d: int, n_layers: int, d_state: int, d_conv: int, expand: int):
        super().__init__()
        self.layers = nn.ModuleList(ScanLayer(d, d_state, d_conv, expand) for _ in range(n_layers))
        self.pool = GatedAttention(d)
        self.checkpoint_layers = False  # recompute each layer in backward (set_activation_checkpointing)

    def set_branches(self, branches: tuple[str, ...]) -> None:
        """Switch scan branches on/off (names from :data:`BRANCHES`)."""
        for layer in self.layers:
            layer.branches = tuple(b for b in BRANCHES if b in branches)

    def forward(self, x: torch.Tensor, project: Callable[[torch.Tensor], torch.Tensor] | None = None) -> ExpertOutput:
        """x: (L, d), or a batch of patients (B, L, d) → ExpertOutput.

        ``project``: applied to x first (e.g. the patch projection (N, D_in) → (N, d)); done here so
        the projected tokens are freed as soon as the first layer has read them (long bags).
        """
        if project is not None:
            x = project(x)
        attention = {}
        recompute = self.checkpoint_layers and torch.is_grad_enabled()
        for layer in self.layers:
            x, ranked = checkpoint(layer, x, use_reentrant=False) if recompute else layer(x)
            if ranked is not None:
                attention["ranked"] = ranked
        pooled, weights = self.pool(x)
        attention["pool"] = weights
        return ExpertOutput(tokens=x, pooled=pooled, attention=attention)


def set_activation_checkpointing(model: nn.Module, on: bool) -> int:
    """Switch activation checkpointing of every :class:`UnimodalExpert`'s layers in ``model``; returns how many experts."""
    experts = [m for m in model.modules() if isinstance(m, UnimodalExpert)]
    for m in experts:
        m.checkpoint_layers = bool(on)
    return len(experts)
