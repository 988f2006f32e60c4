"""Multi-process training on PyTorch's own engine (``torch.distributed`` + DistributedDataParallel).

Launch with torchrun; every rank runs the same command::

    torchrun --nproc_per_node 2 -m memamba_core.cli train COHORT --out runs/x

Joining the group (:class:`Dist`, :func:`init_distributed`) lives in
:mod:`memamba_core.dist` and is re-exported here; without torchrun's environment
training runs in one process and nothing else changes.

How the work is split (see :mod:`memamba_core.train.loop`): each optimiser
step's ``grad_accum`` patients are dealt round-robin to the ranks; each rank
back-propagates its share scaled by ``world / n_step``; DDP averages the
gradients over ranks, so the step sees the mean over the step's patients — the
same update as one process. Ranks with one patient fewer run a zero-weighted
pass so every rank joins the same collectives. A genomics-only batched step
runs each rank's share as one batch on the unwrapped model and averages the
gradients with :meth:`Dist.average_gradients`. Evaluation is sharded the same
way and gathered. Rank 0 alone writes files; the others wait at barriers.
"""

from __future__ import annotations

import contextlib

from torch import nn

from ..dist import Dist, init_distributed, shutdown_distributed

__all__ = ["Dist", "init_distributed", "shutdown_distributed", "wrap_model", "no_sync"]


def wrap_model(model: nn.Module, d: Dist) -> nn.Module:
    """DistributedDataParallel around ``model`` when running multi-process.

    ``find_unused_parameters=True`` because ablations and patients with a
    missing modality leave whole experts unused in a pass.
    """
    if not d.active:
        return model
    ids = [d.device.index] if d.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def no_sync(model: nn.Module, skip: bool):
    """``model.no_sync()`` for DDP when ``skip`` (gradient accumulation), else a null context."""
    if skip and isinstance(model, nn.parallel.DistributedDataParallel):
        return model.no_sync()
    return contextlib.nullcontext()
