"""The demo's tables shipped with the project, so that a first start has a loadable cohort in seconds.

The survival times depend on every slide's painted tissue, so the label table
exists only once all slides are built (minutes). The project therefore ships,
per profile, a copy of what the generator writes for its current spec::

    assets/demo-<profile>-tables/
        <demo spec file>      the spec (memamba_core.demo.demo_spec) the tables were generated for
        labels.csv  pathways.csv  signatures.csv  splits/splits_<k>.csv

A build places them first when the spec file equals the current spec (a
stale copy is ignored) and, once the slides are built, writes the tables it
computed: byte-identical to the shipped ones, which ``tests/test_demo_start.py``
checks. Regenerate after a generator change with
``python -m memamba_core.demo --profile <p> --export-tables``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..paths import atomic_write_bytes, atomic_write_text
from ..runs import file_names
from .profiles import DemoProfile

__all__ = ["ASSETS", "differing_tables", "export_tables", "place_shipped_tables", "shipped_tables_dir", "table_files"]

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SPEC_FILE = file_names()["demo_spec"]  # the name a demo run gives its spec (the run-folder owner spells it)


def table_files(p: DemoProfile) -> list[str]:
    """The shipped tables of profile ``p``, as paths relative to the cohort folder."""
    return ["labels.csv", "pathways.csv", "signatures.csv", *(f"splits/splits_{k}.csv" for k in range(p.n_folds))]


def shipped_tables_dir(p: DemoProfile) -> Path:
    """Where the tables of profile ``p`` are shipped."""
    return ASSETS / f"demo-{p.name}-tables"


def _current(p: DemoProfile, spec: dict) -> Path | None:
    d = shipped_tables_dir(p)
    try:
        if json.loads((d / SPEC_FILE).read_text()) != spec:
            return None
    except (OSError, ValueError):
        return None
    return d if all((d / f).is_file() for f in table_files(p)) else None


def place_shipped_tables(root: Path, p: DemoProfile, spec: dict) -> bool:
    """Copy the shipped tables of ``p`` into ``root`` when they match ``spec``; True when they are in place."""
    src = _current(p, spec)
    if src is None:
        return False
    for f in table_files(p):
        if not (root / f).is_file():
            atomic_write_bytes(root / f, (src / f).read_bytes())
    return True


def differing_tables(root: Path, p: DemoProfile) -> list[str]:
    """The tables of ``root`` whose bytes differ from the shipped copy (all of them when none is shipped)."""
    src = shipped_tables_dir(p)
    return [f for f in table_files(p) if not (src / f).is_file() or (src / f).read_bytes() != (root / f).read_bytes()]


def export_tables(root: Path, p: DemoProfile, spec: dict, dest: Path | None = None) -> Path:
    """Write the tables of a complete demo build in ``root`` (and ``spec``) as the shipped copy; returns the folder."""
    dest = dest or shipped_tables_dir(p)
    for f in table_files(p):
        atomic_write_bytes(dest / f, (root / f).read_bytes())
    atomic_write_text(dest / SPEC_FILE, json.dumps(spec, indent=1))
    return dest
