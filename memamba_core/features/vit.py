"""A Vision Transformer in plain torch with timm's ``state_dict`` keys.

Covers timm's ``vit_small/base/large_patch16_224`` family (the layout of
pathology encoders such as UNI, which is a ViT-L/16 with LayerScale):
``cls_token``, ``pos_embed``, ``patch_embed.proj.*``, ``blocks.<i>.{norm1, attn.qkv,
attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2, ls2.gamma}``, ``norm.*`` (``head.*`` is
ignored). The feature is the class token after the final norm:
(B, 3, 224, 224) → (B, D). Heads = D / 64 as in timm's presets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["VisionTransformer", "VIT_PRESETS"]

VIT_PRESETS = {  # arch name: (embed dim D, depth)
    "vit_small_patch16_224": (384, 12),
    "vit_base_patch16_224": (768, 12),
    "vit_large_patch16_224": (1024, 24),
}


class _LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape                                             # T tokens
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v)                   # (B, heads, T, D/heads)
        return self.proj(o.transpose(1, 2).reshape(B, T, D))


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int, layerscale: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, heads)
        self.ls1 = _LayerScale(dim) if layerscale else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim, hidden)
        self.ls2 = _LayerScale(dim) if layerscale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """ViT with a class token: (B, 3, img, img) → (B, dim)."""

    def __init__(
        self, dim: int, depth: int, patch: int = 16, img: int = 224, mlp_hidden: int | None = None,
        layerscale: bool = False, pos_with_cls: bool = True,
    ) -> None:
        super().__init__()
        self.out_dim = dim
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, patch, stride=patch)
        n = (img // patch) ** 2
        self.pos_with_cls = pos_with_cls
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + (1 if pos_with_cls else 0), dim))
        hidden = mlp_hidden or 4 * dim
        self.blocks = nn.Sequential(*[_Block(dim, max(1, dim // 64), hidden, layerscale) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch_embed.proj(x).flatten(2).transpose(1, 2)       # (B, n, dim)
        cls = self.cls_token.expand(t.shape[0], -1, -1)
        if self.pos_with_cls:
            t = torch.cat([cls, t], dim=1) + self.pos_embed
        else:
            t = torch.cat([cls, t + self.pos_embed], dim=1)
        return self.norm(self.blocks(t))[:, 0]
