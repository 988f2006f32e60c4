"""What a run's progress records say, and the ``memamba train`` arguments the Train page starts."""

from __future__ import annotations

from pathlib import Path

__all__ = ["run_progress", "train_args"]


def run_progress(records: list[dict]) -> tuple[float, str]:
    """Overall fraction done (0–1) and a one-line status from progress records (:func:`memamba_core.app.run_files.progress_records`).

    Counts finished folds plus the epochs of the fold in progress; a resumed
    run counts its skipped folds as done.
    """
    n_folds, done, skipped, cur = 0, set(), set(), None
    for r in records:
        ev = r.get("event")
        if ev in ("run_start", "resume"):
            n_folds = int(r.get("folds") or n_folds)
            skipped |= set(r.get("skipping") or [])
        elif ev == "fold_end":
            done.add(r.get("fold"))
        elif ev == "epoch":
            cur = r
    finished = done | skipped
    if any(r.get("event") == "run_end" for r in records):
        return 1.0, f"finished: {len(finished)} of {n_folds} folds"
    if not n_folds:
        return 0.0, "starting…"
    frac = len(finished) / n_folds
    msg = f"{len(finished)} of {n_folds} folds done"
    if cur is not None and cur.get("fold") not in finished and cur.get("epochs"):
        frac += (cur["epoch"] / cur["epochs"]) / n_folds
        loss = cur.get("loss")
        msg += f" · fold {cur['fold']} epoch {cur['epoch']}/{cur['epochs']}" + ("" if loss is None else f" · loss {loss:.3f}")
    return min(frac, 1.0), msg


def train_args(cohort: str | Path, run_dir: str | Path, *, model: str, modalities: str, epochs: int, n_folds: int,
               lr: float, seed: int, d_model: int) -> list[str]:
    """Arguments of ``memamba train`` for a cross-validated run of ``cohort`` into ``run_dir``.

    Folds: the cohort's split files when it has them, else ``n_folds`` generated ones.
    """
    return ["train", str(cohort), "--out", str(run_dir), "--model", model, "--modalities", modalities,
            "--epochs", str(epochs), "--n-folds", str(n_folds), "--lr", repr(lr), "--seed", str(seed),
            "--d-model", str(d_model)]
