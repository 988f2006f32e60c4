"""Inputs are byte-identical after the test session (issue 14): the hook in tests/conftest.py.

Before the first test, :func:`snapshot` hashes (sha256 of the bytes, once) every file of

* the real cohorts the suite reads: ``$MEMAMBA_BLCA`` / ``$MEMAMBA_STAD`` when set, else
  ``../shared/data`` beside the checkout (the folder the real-data tests default to);
* the shipped assets (``assets/``);
* the tracked project tree (``git ls-files``), plus the list of untracked, not-ignored files —
  a test that leaves a new file in the checkout is caught too.

After the last test :func:`changes` lists what differs; the session then fails naming the files.
Cost: one read of ~30 MB (well under a second here). Set ``MEMAMBA_SKIP_INTEGRITY=1`` to turn the
check off while deliberately editing the tree during a run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

__all__ = ["REPO", "watched_roots", "snapshot", "changes", "SKIP_ENV"]

REPO = Path(__file__).resolve().parents[1]
SKIP_ENV = "MEMAMBA_SKIP_INTEGRITY"


def watched_roots() -> list[Path]:
    """The input folders watched (those that exist), besides the tracked tree."""
    data = [Path(os.environ[k]) for k in ("MEMAMBA_BLCA", "MEMAMBA_STAD") if os.environ.get(k)]
    roots = data or [REPO.parent / "shared" / "data"]
    return [r.resolve() for r in [*roots, REPO / "assets"] if r.exists()]


def _git(*args: str) -> list[str] | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), *args, "-z"], capture_output=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None  # not a git checkout (an installed copy): the tree part is skipped
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def _digest(p: Path) -> str:
    try:
        if p.is_symlink():
            return "link:" + os.readlink(p)
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    except FileNotFoundError:
        return "missing"
    except OSError as err:  # unreadable: still compared (its state must not change either)
        return f"unreadable:{err.errno}"


def snapshot() -> dict[str, str]:
    """``{path: sha256 | 'link:…' | 'missing'}`` of every watched file, and ``{'untracked:<path>': ''}``."""
    files: dict[str, Path] = {}
    for root in watched_roots():
        for p in root.rglob("*"):
            if p.is_file() or p.is_symlink():
                files[str(p)] = p
    tracked = _git("ls-files")
    if tracked is not None:
        for rel in tracked:
            files[str(REPO / rel)] = REPO / rel
    out = {k: _digest(p) for k, p in sorted(files.items())}
    for rel in _git("ls-files", "--others", "--exclude-standard") or []:
        out[f"untracked:{rel}"] = ""
    return out


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Human-readable differences between two snapshots (changed, removed, added files)."""
    lines = []
    for k in sorted(set(before) | set(after)):
        if k.startswith("untracked:"):
            if k not in before:
                lines.append(f"new file in the checkout: {k[len('untracked:'):]}")
            continue
        if k not in after or (after[k] == "missing" and before[k] != "missing"):
            lines.append(f"removed: {k}")
        elif k not in before:
            lines.append(f"added: {k}")
        elif before[k] != after[k]:
            lines.append(f"changed: {k}")
    return lines
