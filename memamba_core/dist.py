"""This process's place in a torchrun process group: :class:`Dist`, joining and leaving the group.

torchrun (PyTorch's launcher) sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``/``PORT``; :func:`init_distributed` reads them and joins the group
(``gloo`` on CPU, ``nccl`` on GPU, one GPU per local rank). Without them it
returns a single-process :class:`Dist` and nothing else changes. Training
(:mod:`memamba_core.train.distributed`) and sharded work over slides or patients
(:mod:`memamba_core.sharding`) both build on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist

__all__ = ["Dist", "init_distributed", "shutdown_distributed"]


@dataclass(frozen=True)
class Dist:
    """This process's place in the group (``world == 1``: plain single-process training)."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            tdist.barrier()

    def sum(self, values: list[float]) -> list[float]:
        """All-reduce (sum) a few floats over ranks."""
        if not self.active:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        tdist.all_reduce(t, op=tdist.ReduceOp.SUM)
        return t.tolist()

    def gather(self, obj) -> list:
        """Every rank's ``obj``, in rank order (picklable Python objects, internal use only)."""
        if not self.active:
            return [obj]
        out = [None] * self.world
        tdist.all_gather_object(out, obj)
        return out

    def average_gradients(self, params) -> None:
        """Average the ``.grad`` of ``params`` over ranks in place (one flat all-reduce).

        What DDP does in ``backward`` — for passes that bypass the DDP wrapper
        (the batched genomics-only step, see :mod:`memamba_core.train.loop`).
        Every rank must hold grads for the same parameters (None elsewhere).
        """
        if not self.active:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads]) / self.world
        tdist.all_reduce(flat, op=tdist.ReduceOp.SUM)
        for g, part in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(part.view_as(g))

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        tdist.broadcast_object_list(box, src=0)
        return box[0]


def init_distributed() -> Dist:
    """Join the process group torchrun describes in the environment, or return a single-process Dist."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        dev = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
        return Dist(0, 1, dev)
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        device, backend = torch.device("cuda", local), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not tdist.is_initialized():
        tdist.init_process_group(backend=backend)
    return Dist(rank, world, device)


def shutdown_distributed(d: Dist) -> None:
    """Leave the process group (no-op for a single process)."""
    if d.active and tdist.is_initialized():
        tdist.destroy_process_group()
