"""The one guard of output paths: an output is never written into or over an input.

Every command that writes calls one of these before it creates anything:

* :func:`check_output_file` — a file output (``predict --out``, ``evaluate --json``):
  refused when it is a folder, is one of the files the command reads, or lies
  inside a folder the command reads (a cohort folder, the run folder being
  evaluated, the checkpoint's run folder).
* :func:`check_output_folder` — a folder output (``train`` / ``ablate --out``,
  ``extract --out``, ``demo --check-out``): refused when it is a file, is or lies
  inside a folder the command reads, or holds one of the command's inputs (a
  cohort inside the run folder would be moved aside by ``--force``).
  ``extract`` passes ``may_contain_inputs=True``: its output is a cohort folder,
  which may well hold the slides folder it reads.

Whether an existing, non-empty folder is one of *our* run folders (the only
kind ``--force`` may replace) is decided by :mod:`memamba_core.runs` (the owner
of the run-folder layout), which also removes what a refused start created.

``reads`` is any iterable of files and folders; paths are compared after
``~`` expansion and symlink resolution, so a symlink pointing into a cohort is
refused too. Every refusal is an :class:`~memamba_core.errors.InputError` that
names the output, the input it would hit, and the fix; nothing has been written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .errors import InputError

__all__ = ["check_output_file", "check_output_folder", "cohort_reads", "checkpoint_reads"]


def _resolved(p: str | os.PathLike) -> Path:
    return Path(p).expanduser().resolve()


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def cohort_reads(cohort) -> tuple[Path, ...]:
    """Every file and folder a loaded cohort reads (its root first): what no output may touch."""
    config = getattr(cohort, "config", None)
    if config is not None and hasattr(config, "input_paths"):
        return tuple(config.input_paths())
    return (Path(cohort.root),)


def checkpoint_reads(checkpoint: str | os.PathLike, fold_dir: str | os.PathLike | None = None) -> tuple[Path, ...]:
    """What a command reading a checkpoint reads: the path given, the fold folder, and the run folder
    that holds it (its config, summary and other folds are the run's own files)."""
    from .runs import RunPaths

    out = [_resolved(checkpoint)]
    if fold_dir is not None:
        fold = _resolved(fold_dir)
        out.append(fold)
        if RunPaths(fold.parent).config.is_file():
            out.append(fold.parent)
    return tuple(dict.fromkeys(out))


def _refuse_reads(out: Path, reads: Iterable[Path], what: str, fix: str) -> None:
    reads = list(reads)
    for r in reads:  # the input itself first: the message names the file that would be overwritten
        if out == r or _same_file(out, r):
            raise InputError(f"{what} {out}: is an input this command reads ({r}); inputs are never overwritten — {fix}")
    for r in reads:
        if _inside(out, r) and r.is_dir():
            raise InputError(f"{what} {out}: lies inside {r}, a folder this command reads; inputs are never written "
                             f"into — {fix}")


def _usable(check):
    """An OSError while looking at the path (a name too long, a loop of symlinks) is bad input, not a crash."""
    def wrapped(path, *args, what: str = "--out", **kw):
        try:
            return check(path, *args, what=what, **kw)
        except OSError as err:
            raise InputError(f"{what} {str(path)[:200]}: cannot be used as a path ({err.strerror or err}); "
                             f"choose a shorter, plain path (nothing was written).") from None
    wrapped.__doc__, wrapped.__name__ = check.__doc__, check.__name__
    return wrapped


@_usable
def check_output_file(path: str | os.PathLike, *, reads: Iterable[str | os.PathLike] = (), what: str = "--out",
                      example: str = "results.csv") -> Path:
    """The resolved path of a file output, or InputError (see the module doc). Nothing is created."""
    out = _resolved(path)
    fix = f"write it outside, e.g. --out ~/{example}"
    if out.is_dir():
        raise InputError(f"{what} {out}: is a folder; give a file path, e.g. {out / example} (nothing was written).")
    _refuse_reads(out, [_resolved(r) for r in reads], what, f"{fix} (nothing was written).")
    if out.parent.exists() and not out.parent.is_dir():
        raise InputError(f"{what} {out}: {out.parent} is a file, not a folder; choose another path (nothing was written).")
    return out


@_usable
def check_output_folder(path: str | os.PathLike, *, reads: Iterable[str | os.PathLike] = (), what: str = "--out",
                        may_contain_inputs: bool = False) -> Path:
    """The resolved path of a folder output, or InputError (see the module doc). Nothing is created."""
    out = _resolved(path)
    fix = "choose an --out folder outside the inputs (nothing was written)."
    if out.exists() and not out.is_dir():
        raise InputError(f"{what} {out}: exists and is a file, not a folder; choose another --out folder (nothing was written).")
    reads = [_resolved(r) for r in reads]
    _refuse_reads(out, reads, what, fix)
    if not may_contain_inputs:
        for r in reads:
            if _inside(r, out):
                raise InputError(f"{what} {out}: holds {r}, an input of this command; outputs and inputs must not share a "
                                 f"folder — {fix}")
    return out
