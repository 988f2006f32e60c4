"""The Hypothesis budget of the property-based tests, and helpers they share.

Profiles (choose with ``MEMAMBA_HYPOTHESIS_PROFILE``):

* ``memamba-ci`` (default) — bounded for CI: ``max_examples`` per test as the
  test file sets it (see :func:`budget`), a 5 s deadline per example (far
  above a normal load; a hang fails), derandomized so every run tries the
  same examples, and no example database (nothing is written into the
  project tree).
* ``memamba-explore`` — for a local hunt: 20x the examples, random seeds, no deadline.

Use ``@budget(n)`` on a ``@given`` test.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import tempfile

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

__all__ = ["budget", "folder_digest", "PROFILE"]

settings.register_profile(
    "memamba-ci", deadline=timedelta(seconds=5), derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "memamba-explore", deadline=None, derandomize=False, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("MEMAMBA_HYPOTHESIS_PROFILE", "memamba-ci")
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):  # never .hypothesis/ inside the checkout
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "memamba-hypothesis")


def budget(max_examples: int) -> settings:
    """Settings for one test: the active profile with ``max_examples`` (x20 when exploring)."""
    scale = 20 if PROFILE == "memamba-explore" else 1
    return settings(settings.get_profile(PROFILE), max_examples=max_examples * scale)


def folder_digest(root: Path) -> dict[str, tuple]:
    """``{relative path: (kind, mode, sha256 or link target)}`` of everything under ``root``."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        rel = str(p.relative_to(root))
        st = p.lstat()
        if p.is_symlink():
            out[rel] = ("link", st.st_mode, os.readlink(p))
        elif p.is_file():
            out[rel] = ("file", st.st_mode, hashlib.sha256(p.read_bytes()).hexdigest())
        else:
            out[rel] = ("dir", st.st_mode, None)
    return out
