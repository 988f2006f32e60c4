"""Plain tables about the runtime and the loaded model, for Home (no streamlit here)."""

from __future__ import annotations

import pandas as pd
import torch


def model_device(loaded) -> torch.device:
    """Device of the loaded model's weights (cpu when it has none)."""
    p = next(iter(loaded.model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def runtime_frame(loaded) -> pd.DataFrame:
    """Device, scan backend actually used by the loaded model, slide readers, versions."""
    from memamba_core.slides import available_backends as slide_backends
    from memamba_core.ssm import active_backend

    dev = model_device(loaded) if loaded is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    backend = loaded.config.backend if loaded is not None else "auto"
    rows = [
        ("device", f"{dev.type}" + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else f" ({torch.get_num_threads()} threads)")),
        ("scan backend", active_backend(dev, backend)),
        ("CUDA available", "yes" if torch.cuda.is_available() else "no"),
        ("slide readers", ", ".join(slide_backends()) or "none (thumbnails unavailable)"),
        ("torch", torch.__version__),
    ]
    return pd.DataFrame(rows, columns=["item", "value"])


def model_frame(loaded, cohort) -> pd.DataFrame:
    """What the loaded checkpoint is, where it came from, and whether it fits the cohort."""
    cfg = loaded.config
    fits = []
    if loaded.feature_dim and cohort.feature_dim() and loaded.feature_dim != cohort.feature_dim():
        fits.append(f"feature width {cohort.feature_dim()} ≠ model's {loaded.feature_dim}")
    if loaded.groups is not None and cohort.groups is not None and tuple(loaded.groups.names) != tuple(cohort.groups.names):
        fits.append("gene groups differ from the model's")
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in loaded.metrics.items() if isinstance(v, (int, float)))
    rows = [
        ("model", f"{cfg.model} (modalities: {cfg.modalities})"),
        ("checkpoint", str(loaded.path)),
        ("trained on", f"{loaded.cohort_name or '?'} (fold {loaded.fold})"),
        ("held-out patients of that fold", str(len(loaded.val_case_ids))),
        ("time bins (K)", f"{cfg.n_bins}; cuts {', '.join(f'{c:.1f}' for c in loaded.cuts)} months"),
        ("switches", f"scans fwd/rev/ranked {int(cfg.scan_forward)}/{int(cfg.scan_reverse)}/{int(cfg.scan_ranked)}, "
                     f"OT {cfg.ot}, MMD {cfg.mmd_weight}, interleave {cfg.interleave}"),
        ("fold metrics", metrics or "—"),
        ("fits this cohort", "yes" if not fits else "no: " + "; ".join(fits)),
    ]
    return pd.DataFrame(rows, columns=["item", "value"])
