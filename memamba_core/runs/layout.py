"""Where each file of a run folder lives: the one place that spells their names.

Run folder (``memamba train``; ``memamba_core.train.cv``)::

    <run>/config.json                the run record: training + model config, cohort, folds (written first)
    <run>/progress.jsonl             one JSON object per line, appended live
    <run>/fold_<k>/model.safetensors the fold's weights (safetensors, never a pickle)
    <run>/fold_<k>/predictions.csv   the fold's out-of-fold predictions
    <run>/fold_<k>/meta.json         written last: the fold is finished when it parses and names k
    <run>/oof_predictions.csv        every finished fold's predictions (rebuilt after each fold)
    <run>/summary.json               per-fold and mean/std metrics (rebuilt after each fold)
    <run>/calibration.json           each fold model's calibration map (risk → survival function, fitted on
                                     training patients of the fold only), written once every fold is finished
                                     (``memamba train``) or by ``memamba calibrate``; :mod:`.calibration`
    <run>/calibrated_oof.csv         the out-of-fold patients' calibrated monthly survival (written with it)
    <run>/ablations.csv              only in a shipped run (the demo asset's place for it): the ablation
                                     table of the ablation run whose ``full`` variant has this run's recipe
    <run>/demo_spec.json             demo runs only: the demo generator spec the run was trained on
    <run>/.lock                      held while a process trains into the folder
    <run>/replaced-<UTC time>/       earlier results moved aside by ``--force``

A nested run (``memamba_core.train.nested``, ``memamba benchmark`` cells) has no weights
and no ``meta.json``; its fold marker is ``fold_<k>/selection.json``, which also keeps the
final model's risks of its training patients, from which the run's calibration files
are written once every fold is finished.

Ablation folder (``memamba ablate``; ``memamba_core.train.ablate``)::

    <out>/ablations.csv              one row per variant
    <out>/<variant>/                 one run folder per variant (``full``, ``no_ot``, …)
    <out>/acceptance.json            ``memamba demo --check`` only: the demo acceptance record

Nothing here reads or writes; :mod:`.folder` writes, :mod:`.read` reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunPaths", "FoldPaths", "fold_number", "file_names", "is_run_folder", "RUN_OUTPUTS", "WEIGHTS_SUFFIX"]

_CONFIG = "config.json"
_PROGRESS = "progress.jsonl"
_OOF = "oof_predictions.csv"
_SUMMARY = "summary.json"
_CALIBRATION = "calibration.json"
_CALIBRATED_OOF = "calibrated_oof.csv"
_ABLATIONS = "ablations.csv"
_ACCEPTANCE = "acceptance.json"
_DEMO_SPEC = "demo_spec.json"
_LOCK = ".lock"
_FOLD_PREFIX = "fold_"
_WEIGHTS = "model.safetensors"
_META = "meta.json"
_FOLD_PREDICTIONS = "predictions.csv"
_SELECTION = "selection.json"
REPLACED_PREFIX = "replaced-"
WEIGHTS_SUFFIX = ".safetensors"

# the run-level outputs a ``--force`` restart moves aside (with every fold folder)
RUN_OUTPUTS = (_CONFIG, _PROGRESS, _OOF, _SUMMARY, _CALIBRATION, _CALIBRATED_OOF, _ABLATIONS, _DEMO_SPEC)


def file_names() -> dict[str, str]:
    """Each file's name by role, for help texts and messages (fold files are inside ``fold_<k>/``)."""
    return {"config": _CONFIG, "progress": _PROGRESS, "oof": _OOF, "summary": _SUMMARY, "calibration": _CALIBRATION,
            "calibrated_oof": _CALIBRATED_OOF, "ablations": _ABLATIONS,
            "acceptance": _ACCEPTANCE, "demo_spec": _DEMO_SPEC, "weights": _WEIGHTS, "meta": _META,
            "predictions": _FOLD_PREDICTIONS, "selection": _SELECTION}


def fold_number(path: str | Path) -> int | None:
    """k of a ``fold_<k>`` folder name (None for any other name)."""
    name = Path(path).name
    if not name.startswith(_FOLD_PREFIX):
        return None
    tail = name[len(_FOLD_PREFIX):]
    return int(tail) if tail.isdigit() else None


@dataclass(frozen=True)
class FoldPaths:
    """The files of one fold folder ``<run>/fold_<k>/``."""

    dir: Path

    @property
    def weights(self) -> Path:
        return self.dir / _WEIGHTS

    @property
    def meta(self) -> Path:
        return self.dir / _META

    @property
    def predictions(self) -> Path:
        return self.dir / _FOLD_PREDICTIONS

    @property
    def selection(self) -> Path:
        return self.dir / _SELECTION

    @property
    def fold(self) -> int | None:
        return fold_number(self.dir)

    def looks_like_checkpoint(self) -> bool:
        """True when the folder holds a meta record or weights (a fold folder given directly)."""
        return self.meta.is_file() or self.weights.is_file()


@dataclass(frozen=True)
class RunPaths:
    """The files of one run folder (or ablation folder) at ``root``; nothing is created."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / _CONFIG

    @property
    def progress(self) -> Path:
        return self.root / _PROGRESS

    @property
    def oof(self) -> Path:
        return self.root / _OOF

    @property
    def summary(self) -> Path:
        return self.root / _SUMMARY

    @property
    def calibration(self) -> Path:
        return self.root / _CALIBRATION

    @property
    def calibrated_oof(self) -> Path:
        return self.root / _CALIBRATED_OOF

    @property
    def ablations(self) -> Path:
        return self.root / _ABLATIONS

    @property
    def acceptance(self) -> Path:
        return self.root / _ACCEPTANCE

    @property
    def demo_spec(self) -> Path:
        return self.root / _DEMO_SPEC

    @property
    def lock(self) -> Path:
        return self.root / _LOCK

    def fold(self, k: int) -> FoldPaths:
        return FoldPaths(self.root / f"{_FOLD_PREFIX}{int(k)}")

    def variant(self, name: str) -> RunPaths:
        """The run folder of ablation variant ``name`` inside this ablation folder."""
        return RunPaths(self.root / name)

    def fold_dirs(self) -> list[FoldPaths]:
        """Every ``fold_<k>/`` folder present (finished or not), by ascending k."""
        if not self.root.is_dir():
            return []
        found = [(fold_number(d), d) for d in self.root.iterdir() if d.is_dir()]
        return [FoldPaths(d) for k, d in sorted((k, d) for k, d in found if k is not None)]

    def is_output(self, name: str) -> bool:
        """Whether a top-level entry ``name`` is a run output (moved aside by a ``--force`` restart)."""
        return name in RUN_OUTPUTS or fold_number(name) is not None

    def foreign_entries(self) -> list[str]:
        """Top-level entries of a run folder *without* a run record that a run of ours would not leave there
        (sorted): anything but hidden files and ``replaced-…`` folders. A non-empty list means the folder is
        someone else's, and no run (not even ``--force``) may write into it."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if not p.name.startswith(".") and not p.name.startswith(REPLACED_PREFIX))

    def foreign_ablation_entries(self) -> list[str]:
        """Top-level entries of an ablation folder that are not ours (sorted): anything but hidden files, its
        table and acceptance record, and variant folders that are run folders (hold a run record) or hold
        nothing foreign. Non-empty: the folder is someone else's and ``ablate`` refuses it."""
        if not self.root.is_dir():
            return []
        out = []
        for p in self.root.iterdir():
            if p.name.startswith(".") or (p.is_file() and p.name in (_ABLATIONS, _ACCEPTANCE)):
                continue
            if p.is_dir() and not p.is_symlink():
                v = RunPaths(p)
                if v.config.is_file() or not v.foreign_entries():
                    continue
            out.append(p.name)
        return sorted(out)

    def replaced_dir(self, stamp: str) -> Path:
        return self.root / f"{REPLACED_PREFIX}{stamp}"


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` is a run folder (it holds ``fold_<k>/`` folders) rather than one fold's checkpoint."""
    p = Path(path).expanduser().resolve()
    return p.is_dir() and not FoldPaths(p).looks_like_checkpoint() and bool(RunPaths(p).fold_dirs())
