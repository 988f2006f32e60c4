"""Home's tables: the model card, every cohort ↔ model problem, the run's metrics, the runtime.

Each builder returns a two-column ``item`` / ``value`` table (strings) for
display. The model card and the compatibility check read the checkpoint's
``meta.json`` (:class:`~memamba_core.app.run_files.FoldCard`), not the model:
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
    """Every reason ``cohort`` cannot feed the checkpoint of ``card`` (empty: it fits).

    Checked: patch features present and of the model's width D_in; gene groups
    present, with the model's names in its order and the model's columns in
    each group. Each message says what to change.
    """
    problems = []
    where = f"the model ({card.path})"
    if card.uses_pathology:
        dim = cohort.feature_dim()
        if dim is None:
            problems.append(f"{where} reads patch features (D_in = {card.feature_dim}) but cohort '{cohort.name}' has none: "
                            "extract features for it (memamba extract), or pick a genomics-only model.")
        elif dim != card.feature_dim:
            problems.append(f"{where} was trained on {card.feature_dim}-wide patch features but cohort '{cohort.name}' has "
                            f"{dim}-wide ones: extract them with the training cohort's encoder, or pick a matching model.")
    if card.uses_genomics:
        groups = cohort.groups
        if groups is None:
            problems.append(f"{where} reads gene groups ({', '.join(card.group_names)}) but cohort '{cohort.name}' has "
                            "none: add signatures.csv or pathways.csv and the genomic columns.")
        elif tuple(groups.names) != card.group_names:
            missing = [g for g in card.group_names if g not in groups.names]
            extra = [g for g in groups.names if g not in card.group_names]
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"not in the model: {', '.join(extra)}"] if extra else [])
            detail = "; ".join(parts) or "the same groups in another order"
            problems.append(f"{where} was trained on gene groups {', '.join(card.group_names)}; cohort '{cohort.name}' "
                            f"has {', '.join(groups.names)} ({detail}): use the model's grouping file.")
        else:
            for name, want, have in zip(card.group_names, card.group_columns, groups.columns):
                if want and tuple(have) != tuple(want):
                    lost = sorted(set(want) - set(have))
                    problems.append(f"gene group {name}: the model reads {len(want)} columns, cohort '{cohort.name}' "
                                    f"has {len(have)}" + (f" (missing e.g. {', '.join(lost[:3])})" if lost else
                                                          " (other columns or order)") +
                                    ": give the cohort the model's genomic columns.")
    return problems


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
    """Headline figures of a finished run's ``summary.json``: folds, mean ± sd C-index, pooled out-of-fold C-index."""
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
