"""Where a cohort's files are: a folder laid out by convention, or a cohort file.

A cohort is a folder (the *root*). Its files are found by convention
(see ``docs/data.md``), or named explicitly in a ``cohort.toml`` /
``cohort.yaml`` file. Every named path is relative to the root and must
resolve inside it (:func:`memamba_core.paths.resolve_inside`).

Cohort file keys (all optional; anything not named is discovered)::

    name = "TCGA-BLCA"              # display name (default: the folder name)
    root = "."                      # the cohort folder, relative to this file
    labels = "labels.csv.gz"        # MCAT label CSV (.csv, .csv.gz, .zip)
    genomics = "genomics.csv"       # separate genomics CSV keyed by case_id
    signatures = "signatures.csv"   # gene families as ragged columns, or ...
    pathways = "pathways.csv"       # ... a gene x pathway 0/1 matrix (not both)
    pt_dir = "pt_files"             # CLAM .pt bags
    h5_dir = "h5_files"             # CLAM .h5 bags (features + coords)
    slides_dir = "slides"           # whole-slide images
    splits = "splits"               # a folder of splits_<k>.csv, or a list of files
    feature_dim = 1024              # expected bag width D_in (default: from the first bag)

Nothing here reads a table; it only decides which files are the cohort.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..paths import resolve_inside

__all__ = ["CohortConfig", "resolve_config", "COHORT_FILE_NAMES", "TABLE_SUFFIXES"]

COHORT_FILE_NAMES = ("cohort.toml", "cohort.yaml", "cohort.yml")
TABLE_SUFFIXES = (".csv", ".csv.gz", ".zip")
_KEYS = {
    "name", "root", "labels", "genomics", "signatures", "pathways",
    "pt_dir", "h5_dir", "slides_dir", "splits", "feature_dim",
}
_SPLIT_RE = re.compile(r"^splits_(\d+)\.csv$")


@dataclass(frozen=True)
class CohortConfig:
    """The resolved files of one cohort (absolute paths, all inside ``root``).

    ``labels`` is None only when discovery found no candidate; the loader then
    raises. ``splits`` is ordered by the fold number k of ``splits_<k>.csv``
    (or as listed in the cohort file).
    """

    root: Path
    name: str
    labels: Path | None = None
    genomics: Path | None = None
    signatures: Path | None = None
    pathways: Path | None = None
    pt_dir: Path | None = None
    h5_dir: Path | None = None
    slides_dir: Path | None = None
    splits: tuple[Path, ...] = ()
    feature_dim: int | None = None
    source: Path | None = None  # the cohort file, if one was used


def resolve_config(path: str | Path) -> CohortConfig:
    """Turn a folder or a cohort file into a :class:`CohortConfig`. Never writes.

    A folder holding ``cohort.toml`` (or ``.yaml``) uses that file.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{p}: no such cohort folder or cohort file; give a folder in the MCAT/CLAM layout or a cohort.toml.")
    if p.is_dir():
        for fname in COHORT_FILE_NAMES:
            if (p / fname).is_file():
                return _from_file(p / fname)
        return _discover(p.resolve(), {}, source=None)
    if p.suffix.lower() in (".toml", ".yaml", ".yml"):
        return _from_file(p)
    raise InputError(
        f"{p}: a cohort is a folder or a .toml/.yaml cohort file, not a '{p.suffix}' file; "
        f"pass the folder that holds the label CSV."
    )


def _from_file(file: Path) -> CohortConfig:
    data = _read_mapping(file)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InputError(
            f"{file}: unknown key(s) {', '.join(repr(k) for k in unknown)}; "
            f"allowed keys are {', '.join(sorted(_KEYS))}."
        )
    base = file.resolve().parent
    root_value = data.get("root", ".")
    if not isinstance(root_value, str):
        raise InputError(f"{file}: 'root' must be a string path, got {root_value!r}.")
    root = (base / Path(root_value).expanduser()).resolve()
    if not root.is_dir():
        raise InputError(f"{file}: root '{root_value}' resolves to {root}, which is not a folder; fix 'root'.")
    return _discover(root, data, source=file.resolve())


def _read_mapping(file: Path) -> dict:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{file}: cannot read the cohort file ({err}); check it is a UTF-8 text file.") from err
    try:
        if file.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as err:  # tomllib.TOMLDecodeError / yaml.YAMLError
        raise InputError(f"{file}: not valid {file.suffix[1:].upper()} ({err}); fix the syntax.") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{file}: the cohort file must be a mapping of keys (labels = ..., pt_dir = ...).")
    return data


def _named(root: Path, data: dict, key: str, source: Path | None, *, folder: bool) -> Path | None:
    """The path named under ``key`` in the cohort file, resolved inside root and checked to exist."""
    if key not in data:
        return None
    value = data[key]
    if not isinstance(value, str) or not value:
        raise InputError(f"{source}: '{key}' must be a non-empty string path, got {value!r}.")
    p = resolve_inside(root, value, what=f"{source.name if source else 'cohort file'}: {key}")
    ok = p.is_dir() if folder else p.is_file()
    if not ok:
        kind = "folder" if folder else "file"
        raise InputError(f"{source}: {key} = '{value}' is not an existing {kind} inside {root}; fix the path or remove the key.")
    return p


def _default(root: Path, *names: str, folder: bool = False) -> Path | None:
    for n in names:
        p = root / n
        if (p.is_dir() if folder else p.is_file()):
            return resolve_inside(root, p, what=n)
    return None


def _is_table(p: Path) -> bool:
    return p.is_file() and p.name.lower().endswith(TABLE_SUFFIXES)


def _split_files_in(folder: Path, root: Path) -> list[Path]:
    found = []
    for p in folder.iterdir():
        m = _SPLIT_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), resolve_inside(root, p, what="split file")))
    return [p for _, p in sorted(found)]


def _splits(root: Path, data: dict, source: Path | None) -> tuple[Path, ...]:
    if "splits" in data:
        value = data["splits"]
        if isinstance(value, str):
            folder = _named(root, data, "splits", source, folder=True)
            files = _split_files_in(folder, root)
            if not files:
                raise InputError(f"{source}: splits = '{value}' holds no splits_<k>.csv files; add them or remove the key.")
            return tuple(files)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            out = []
            for v in value:
                p = resolve_inside(root, v, what=f"{source.name if source else 'cohort file'}: splits")
                if not p.is_file():
                    raise InputError(f"{source}: split file '{v}' does not exist inside {root}; fix the list under 'splits'.")
                out.append(p)
            return tuple(out)
        raise InputError(f"{source}: 'splits' must be a folder path or a list of split CSV paths, got {value!r}.")
    sub = root / "splits"
    if sub.is_dir():
        files = _split_files_in(sub, root)
        if files:
            return tuple(files)
    return tuple(_split_files_in(root, root))


def _feature_dim(data: dict, source: Path | None) -> int | None:
    if "feature_dim" not in data:
        return None
    v = data["feature_dim"]
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise InputError(f"{source}: feature_dim must be a positive integer (e.g. 1024), got {v!r}.")
    return v


def _discover(root: Path, data: dict, source: Path | None) -> CohortConfig:
    name = data.get("name", root.name)
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{source}: 'name' must be a non-empty string, got {name!r}.")
    signatures = _named(root, data, "signatures", source, folder=False)
    pathways = _named(root, data, "pathways", source, folder=False)
    if signatures is not None and pathways is not None:
        raise InputError(f"{source}: name either 'signatures' (gene families) or 'pathways' (gene x pathway matrix), not both.")
    if signatures is None and pathways is None:
        signatures = _default(root, "signatures.csv")
        if signatures is None:
            pathways = _default(root, "pathways.csv")
    genomics = _named(root, data, "genomics", source, folder=False)
    if genomics is None and "genomics" not in data:
        genomics = _default(root, "genomics.csv", "genomics.csv.gz", "genomics.zip")
    labels = _named(root, data, "labels", source, folder=False)
    if labels is None:
        labels = _discover_labels(root, exclude={signatures, pathways, genomics})
    return CohortConfig(
        root=root,
        name=name.strip(),
        labels=labels,
        genomics=genomics,
        signatures=signatures,
        pathways=pathways,
        pt_dir=_named(root, data, "pt_dir", source, folder=True) or _default(root, "pt_files", folder=True),
        h5_dir=_named(root, data, "h5_dir", source, folder=True) or _default(root, "h5_files", folder=True),
        slides_dir=_named(root, data, "slides_dir", source, folder=True) or _default(root, "slides", folder=True),
        splits=_splits(root, data, source),
        feature_dim=_feature_dim(data, source),
        source=source,
    )


def _header_or_empty(path: Path) -> list[str]:
    from .tables import read_header

    try:
        return read_header(path)
    except InputError:  # not a readable table (e.g. a .zip of slides): not a candidate
        return []


def _discover_labels(root: Path, exclude: set) -> Path | None:
    """The label CSV of a folder: the one table at the top level that is not a
    signatures / pathways / genomics / split file. With several, the one(s)
    whose header has ``case_id`` and ``survival_months``; still several is an error."""
    cands = sorted(
        p for p in root.iterdir()
        if _is_table(p) and p.resolve() not in exclude and not _SPLIT_RE.match(p.name)
        and p.name.lower() not in ("signatures.csv", "pathways.csv")
    )
    if len(cands) <= 1:
        return resolve_inside(root, cands[0], what="label CSV") if cands else None
    with_labels = [p for p in cands if {"case_id", "survival_months"} <= set(_header_or_empty(p))]
    if len(with_labels) == 1:
        return resolve_inside(root, with_labels[0], what="label CSV")
    names = ", ".join(p.name for p in (with_labels or cands))
    raise InputError(
        f"{root}: several tables could be the label CSV ({names}); "
        f"name the right one in a cohort.toml in that folder: labels = \"<file>\"."
    )
