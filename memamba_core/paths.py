"""Filesystem helpers shared by every layer: safe path resolution, the cache
folder, and atomic writes.

Conventions
-----------
* User paths inside a cohort are resolved with :func:`resolve_inside`; a path
  that escapes the cohort root (``..``, an absolute path elsewhere, a symlink
  pointing out) is an :class:`~memamba_core.errors.InputError`.
* Outputs are written atomically: to a temporary file in the same folder, then
  ``os.replace``. A crash never leaves a half-written file under the final name.
* Inputs are never written to.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from .errors import InputError

__all__ = ["resolve_inside", "cache_dir", "atomic_write", "atomic_write_text", "atomic_write_bytes"]

CACHE_ENV = "MEMAMBA_CACHE"


def resolve_inside(root: str | os.PathLike, path: str | os.PathLike, *, what: str = "path") -> Path:
    """Resolve ``path`` (relative to ``root`` unless absolute) and check it stays in ``root``.

    Symlinks are resolved before the check. Raises :class:`InputError` naming
    ``what`` when the result lies outside ``root``.
    """
    root_r = Path(root).expanduser().resolve()
    p = Path(path).expanduser()
    full = (p if p.is_absolute() else root_r / p).resolve()
    if full != root_r and root_r not in full.parents:
        raise InputError(
            f"{what} '{path}' resolves to {full}, which is outside the cohort folder {root_r}; "
            f"keep every file of a cohort inside its folder (use a relative path)."
        )
    return full


def cache_dir() -> Path:
    """The user cache folder: ``$MEMAMBA_CACHE`` if set, else ``~/.cache/memamba``. Created if missing."""
    env = os.environ.get(CACHE_ENV)
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "memamba"
    base.mkdir(parents=True, exist_ok=True)
    return base


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on clean exit fsync and rename it over ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path, "w") as fh:
        fh.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)
