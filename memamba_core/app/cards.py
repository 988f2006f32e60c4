"""Home's tables: the model card, every cohort ↔ model problem, the run's metrics, the runtime.

Each builder returns a two-column ``item`` / ``value`` table (strings) for
display. The model card and the compatibility check read the checkpoint's
meta record (:class:`~memamba_core.app.run_files.FoldCard`), not the model:
Home shows them without importing torch. The runtime table needs the loaded
model (device, scan backend) and imports torch inside.
"""

from __future__ import annotations

from .run_files import FoldCard

__all__ = ["compatibility_problems", "model_frame", "runtime_frame", "summary_metrics"]


def _frame(rows: list[tuple[str, str]]):
    import pandas as pd

    return pd.DataFrame(rows, columns=["item", "value"])


def compatibility_problems(card: FoldCard, cohort) -> list[str]:
    """Every reason ``cohort`` cannot feed the checkpoint of ``card`` (empty: it fits), as messages.

    The check is training's and prediction's own (:func:`memamba_core.train.compat.compatibility_problems`
    on the fold's meta record): Home lists exactly the problems that ``memamba predict`` would raise.
    """
    from ..runs import read_fold_meta
    from ..train.compat import compatibility_problems as problems_of

    return [p.message for p in problems_of(cohort, read_fold_meta(card.path))]


def model_frame(card: FoldCard, problems: list[str] | None):
    """What the checkpoint is, where it came from, and whether it fits the cohort.

    ``problems``: from :func:`compatibility_problems`, or None when no cohort is there to check yet.
    """
    sw = card.switches
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in card.metrics.items() if isinstance(v, float))
    rows = [
        ("model", f"{card.model} (modalities: {card.modalities})"),
        ("checkpoint", str(card.path)),
        ("trained on", f"{card.cohort_name or '?'} (fold {card.fold})"),
        ("held-out patients of that fold", str(card.n_val)),
        ("time bins (K)", f"{card.n_bins}; cuts {', '.join(f'{c:.1f}' for c in card.cuts)} months"),
        ("switches", f"scans fwd/rev/ranked {int(sw.get('scan_forward', 0))}/{int(sw.get('scan_reverse', 0))}/"
                     f"{int(sw.get('scan_ranked', 0))}, OT {sw.get('ot', '?')}, MMD {sw.get('mmd_weight', '?')}, "
                     f"interleave {sw.get('interleave', '?')}"),
        ("fold metrics", metrics or "—"),
        ("fits this cohort", "not checked yet (the cohort is not complete)" if problems is None else
         "yes" if not problems else f"no: {len(problems)} problem(s), listed below"),
    ]
    return _frame(rows)


def summary_metrics(summary: dict | None) -> dict[str, str]:
    """Headline figures of a finished run's summary: folds, mean ± sd C-index, pooled out-of-fold C-index."""
    if not summary:
        return {}
    out = {"folds": str(summary.get("n_folds_finished", "?"))}
    mean, std = summary.get("mean", {}), summary.get("std", {})
    if isinstance(mean.get("c_index"), (int, float)):
        out["mean C-index"] = f"{mean['c_index']:.3f} ± {std.get('c_index', float('nan')):.3f}"
    pooled = summary.get("pooled_c_index") or {}
    if isinstance(pooled.get("value"), (int, float)):
        out["pooled out-of-fold C-index"] = f"{pooled['value']:.3f} ({pooled.get('low', float('nan')):.3f}–" \
                                            f"{pooled.get('high', float('nan')):.3f})"
    return out


def runtime_frame(loaded):
    """Device and scan backend the loaded model uses, CUDA, slide readers, torch version."""
    import torch

    from ..slides import available_backends as slide_backends
    from ..ssm import active_backend

    p = next(iter(loaded.model.parameters()), None)
    dev = p.device if p is not None else torch.device("cpu")
    where = f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else f" ({torch.get_num_threads()} threads)"
    rows = [
        ("device", dev.type + where),
        ("scan backend", active_backend(dev, loaded.config.backend)),
        ("CUDA available", "yes" if torch.cuda.is_available() else "no"),
        ("slide readers", ", ".join(slide_backends()) or "none (thumbnails unavailable)"),
        ("torch", torch.__version__),
    ]
    return _frame(rows)
