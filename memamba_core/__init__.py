"""memamba_core: ME-Mamba multimodal survival analysis (the library).

Sub-packages, imports pointing down only:
``ssm`` (selective scan, Mamba block) → ``models`` (experts, ME-Mamba, baselines)
and ``align`` (optimal transport, MMD); ``survival`` (bins, loss, metrics, KM);
``data`` (cohort contract); ``slides``, ``features``, ``demo``; ``train``; ``viz``
(Plotly figure builders). No module here imports streamlit.

Public names live in each sub-package; import them from there, e.g.
``from memamba_core.data import load_cohort``.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
