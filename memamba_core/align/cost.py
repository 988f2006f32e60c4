"""Cross-modal cost between patch tokens and genomic tokens.

Glossary: N patch tokens, G genomic tokens, d width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["cosine_cost"]


def cosine_cost(P: torch.Tensor, G: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """C[i, j] = 1 − cos(P_i, G_j), in [0, 2]; 0 = same direction.

    Args:
        P: (N, d) patch tokens.
        G: (G, d) genomic tokens.

    Returns:
        (N, G) cost matrix.

    Example:
        >>> cosine_cost(torch.eye(2), torch.eye(2))
        tensor([[0., 1.],
                [1., 0.]])
    """
    return 1.0 - F.normalize(P, dim=-1, eps=eps) @ F.normalize(G, dim=-1, eps=eps).t()
