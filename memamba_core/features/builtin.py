"""The built-in encoder: deterministic, fast on a CPU, needs no weights file.

A fixed-seed network of colour statistics and random texture filters:

* input (B, 3, 128, 128) RGB in [0, 1] (a 256-px patch at 0.5 µm/px is box-averaged 2× by
  :meth:`Encoder.preprocess`, so the network sees 1 µm/px);
* optical density ``OD = -log((255·x + 1) / 256)`` per channel (Beer–Lambert: stain amount);
* colour block (16): per-channel mean and std of RGB and of OD, the fractions of near-white
  and of dark pixels, grey-level 10/50/90 % quantiles and the mean saturation;
* texture block (240): three random conv layers on OD (3→16, 16→32, 32→96; 3×3, stride 2,
  ReLU), filters drawn from a seeded numpy generator with zero spatial mean (so they respond
  to texture, not brightness); global mean of each layer and the std of the last.

D = 256. Same weights on every machine (numpy's PCG64 stream with a fixed seed), so the
same pixels give the same features. Random-filter networks are a known, reasonable texture
descriptor; this one is built so that the tissue classes of the demo cohort separate.
It is *not* a substitute for a pathology foundation model on real slides.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .encoder import Encoder

__all__ = ["BuiltinNet", "builtin_encoder", "BUILTIN_NAME", "BUILTIN_DIM"]

BUILTIN_NAME = "builtin-v1"
_CHANNELS = (16, 32, 96)
_KERNELS = (3, 3, 3)
_N_COLOUR = 16
BUILTIN_DIM = _N_COLOUR + _CHANNELS[0] + _CHANNELS[1] + 2 * _CHANNELS[2]  # 256


def _random_filters(rng: np.random.Generator, c_out: int, c_in: int, k: int) -> torch.Tensor:
    w = rng.standard_normal((c_out, c_in, k, k))
    w -= w.mean(axis=(2, 3), keepdims=True)
    w /= np.sqrt((w**2).sum(axis=(1, 2, 3), keepdims=True)) + 1e-12
    return torch.from_numpy(w.astype(np.float32))


class BuiltinNet(nn.Module):
    """(B, 3, 128, 128) float in [0, 1] → (B, 256). See module doc."""

    def __init__(self, seed: int = 20240611) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        c_in = 3
        for i, (c, k) in enumerate(zip(_CHANNELS, _KERNELS)):
            self.register_buffer(f"w{i}", _random_filters(rng, c, c_in, k))
            c_in = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        od = -torch.log((x * 255.0 + 1.0) / 256.0)                    # (B, 3, 128, 128), ≥ 0
        xs = F.avg_pool2d(x, 2)                                       # (B, 3, 64, 64): colour statistics
        ods = F.avg_pool2d(od, 2)
        r, g, b = xs[:, 0], xs[:, 1], xs[:, 2]                        # (B, 64, 64) each
        mx = torch.maximum(torch.maximum(r, g), b).flatten(1)         # (B, L)
        mn = torch.minimum(torch.minimum(r, g), b).flatten(1)
        grey = xs.mean(1).flatten(1)                                  # (B, L)
        sat = (mx - mn) / mx.clamp_min(1e-3)                          # HSV saturation
        med = grey.median(1, keepdim=True).values                     # (B, 1) median grey level
        colour = torch.cat(
            [
                *_mean_std(xs.flatten(2)), *_mean_std(ods.flatten(2)),  # 12: RGB and OD mean, std
                (mn > 0.85).float().mean(1, keepdim=True),            # near-white fraction
                (grey < 0.35).float().mean(1, keepdim=True),          # dark fraction
                med, sat.mean(1, keepdim=True),                       # median grey, saturation
            ],
            dim=1,
        )                                                             # (B, 16)
        h = od
        pooled = []
        for i, k in enumerate(_KERNELS):
            h = F.relu_(F.conv2d(h, getattr(self, f"w{i}"), stride=2, padding=k // 2))
            pooled.append(h.mean((2, 3)))
        pooled.append(_mean_std(h.flatten(2))[1])
        return torch.cat([colour] + pooled, dim=1)                    # (B, 256)


def _mean_std(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (population) std over the last axis: (B, C, L) → (B, C), (B, C)."""
    m = v.mean(-1)
    return m, ((v * v).mean(-1) - m * m).clamp_min_(0).sqrt_()


def builtin_encoder(seed: int = 20240611, device: str = "cpu") -> Encoder:
    """The built-in encoder (D = 256), deterministic for a given ``seed``."""
    return Encoder(
        name=BUILTIN_NAME if seed == 20240611 else f"{BUILTIN_NAME}-seed{seed}",
        module=BuiltinNet(seed),
        output_dim=BUILTIN_DIM,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        input_size=128,
        device=device,
    )
