"""Cross-modal alignment: cosine cost, optimal-transport plans (hard, Sinkhorn), MMD."""

from .cost import cosine_cost
from .mmd import median_bandwidth, mmd
from .transport import hard_transport, sinkhorn_transport

__all__ = ["cosine_cost", "hard_transport", "median_bandwidth", "mmd", "sinkhorn_transport"]
