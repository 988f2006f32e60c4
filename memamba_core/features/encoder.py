"""The patch encoder interface: a network plus the preprocessing it expects.

An :class:`Encoder` maps a batch of B RGB patches to B feature vectors of width
D (``output_dim``). Input: ``(B, H, W, 3)`` uint8 (numpy or torch, as read from
a slide) or ``(B, 3, H, W)`` float in [0, 1]. Preprocessing: scale to [0, 1],
resize to ``input_size`` when the encoder needs a fixed size, normalise with
``mean`` / ``std`` per channel. A square batch whose side is an integer multiple
of ``input_size`` is reduced by exact box averaging; other sizes use antialiased
bilinear resizing. Output: ``(B, D)`` float32 on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Encoder", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Encoder:
    """A patch encoder. Call it on a batch: ``encoder(patches) -> (B, D)`` float32.

    ``name``: recorded in feature files (e.g. ``"builtin-v1"``, ``"resnet50_trunc"``).
    ``module``: the network, ``(B, 3, H, W)`` normalised float → ``(B, D)``.
    ``input_size``: the side the network needs (e.g. 224 for a ViT), or None for any size.
    ``device``: where the network runs (``"cpu"`` or ``"cuda"``).
    """

    name: str
    module: nn.Module
    output_dim: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    input_size: int | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        self.module = self.module.eval().to(self.device)
        self._mean = torch.tensor(self.mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(self.std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    def preprocess(self, batch) -> torch.Tensor:
        """(B, H, W, 3) uint8 or (B, 3, H, W) float [0, 1] → (B, 3, S, S) normalised float32."""
        x = torch.from_numpy(np.ascontiguousarray(batch)) if isinstance(batch, np.ndarray) else batch
        if x.ndim != 4:
            raise ValueError(f"{self.name}: expected a batch of shape (B, H, W, 3) or (B, 3, H, W), got {tuple(x.shape)}")
        S = self.input_size
        side = x.shape[1] if x.dtype == torch.uint8 else x.shape[-1]
        square = (x.shape[1] == x.shape[2]) if x.dtype == torch.uint8 else (x.shape[-1] == x.shape[-2])
        f = side // S if S is not None and square and side % S == 0 else 1
        if x.dtype == torch.uint8:
            if x.shape[-1] != 3:
                raise ValueError(f"{self.name}: uint8 batches are (B, H, W, 3) RGB, got {tuple(x.shape)}")
            x = x.to(self.device)
            if f > 1:  # exact box average over f × f pixels, summed in integers (cheaper than float resizing)
                x = _box_sum(x, f).permute(0, 3, 1, 2).float().div_(255.0 * f * f)
            else:
                x = x.permute(0, 3, 1, 2).float().div_(255.0)
        else:
            if x.shape[1] != 3:
                raise ValueError(f"{self.name}: float batches are (B, 3, H, W) in [0, 1], got {tuple(x.shape)}")
            x = x.to(self.device, torch.float32)
            if f > 1:
                x = F.avg_pool2d(x, f)
        if S is not None and (x.shape[-1] != S or x.shape[-2] != S):
            x = F.interpolate(x, size=(S, S), mode="bilinear", align_corners=False, antialias=True)
        return (x - self._mean) / self._std

    @torch.inference_mode()
    def __call__(self, batch) -> torch.Tensor:
        """Features of a batch: (B, D) float32 on the CPU."""
        out = self.module(self.preprocess(batch))
        return out.float().cpu()


def _box_sum(x: torch.Tensor, f: int) -> torch.Tensor:
    """(B, H, W, 3) uint8 → (B, H/f, W/f, 3) int32 sums over f × f blocks (H, W divisible by f)."""
    acc = x[:, 0::f, 0::f].to(torch.int32)
    for i in range(f):
        for j in range(f):
            if i or j:
                acc += x[:, i::f, j::f]
    return acc
