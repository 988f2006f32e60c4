"""Where a cohort's files are: a published layout found by its folders, or a cohort file.

A cohort is a folder (the *root*). Its files are found by the layout the
folder has (:mod:`memamba_core.data.layouts`: SurvPath / PIBD, MCAT / MOTCat /
CMTA, or a one-cohort folder; see ``docs/data.md``), or named explicitly in a
``cohort.toml`` / ``cohort.yaml`` file. Every named path is relative to the
root and must resolve inside it (:func:`memamba_core.paths.resolve_inside`).

Cohort file keys (all optional; anything not named is discovered)::

    name = "TCGA-STAD"              # display name (default: the study, else the folder name)
    root = "."                      # the cohort folder, relative to this file
    study = "tcga_stad"             # which cancer of a folder holding several (a repository clone)
    endpoint = "os"                 # survival endpoint: os | dss | pfi (default os)
    labels = "labels.csv.gz"        # label CSV (.csv, .csv.gz, .zip), one row per slide
    genomics = "genomics.csv"       # separate genomics / RNA table keyed by case_id
    clinical = "clinical.csv"       # per-patient clinical table keyed by case_id (stage, grade, ...)
    signatures = "signatures.csv"   # gene families as ragged columns, or ...
    pathways = "pathways.csv"       # ... a gene x pathway 0/1 matrix (not both)
    rna_source = "xena"             # SurvPath layout: datasets_csv/raw_rna_data/<rna_source>/
    pathway_set = "hallmarks"       # SurvPath layout: pathway_compositions/<pathway_set>_comps.csv
    pt_dir = "pt_files"             # CLAM .pt bags
    h5_dir = "h5_files"             # CLAM / TRIDENT .h5 bags (features + coords)
    slides_dir = "slides"           # whole-slide images
    splits = "splits"               # a folder of splits_<k>.csv, or a list of files
    feature_dim = 1024              # expected bag width D_in (default: the most common width)

Nothing here reads a table's rows; it only decides which files are the cohort.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..paths import resolve_inside
from .endpoints import get_endpoint
from .layouts import TABLE_SUFFIXES, discover, split_files_in
from .tables import short

__all__ = ["CohortConfig", "resolve_config", "COHORT_FILE_NAMES", "TABLE_SUFFIXES"]

COHORT_FILE_NAMES = ("cohort.toml", "cohort.yaml", "cohort.yml")
_KEYS = {
    "name", "root", "study", "endpoint", "labels", "genomics", "clinical", "signatures", "pathways",
    "rna_source", "pathway_set", "pt_dir", "h5_dir", "slides_dir", "splits", "feature_dim",
}
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class CohortConfig:
    """The resolved files of one cohort (absolute paths, all inside ``root``).

    ``labels`` is None only when discovery found no candidate; the loader then
    raises. ``splits`` is ordered by the fold number k of ``splits_<k>.csv``
    (or as listed in the cohort file). ``endpoint`` is the cohort file's
    choice (None: the loader's default); ``layout`` is ``"survpath"``,
    ``"mcat"`` or ``"folder"``; ``study`` / ``rna_source`` / ``pathway_set``
    are the choices made within the layout (None where not applicable).
    """

    root: Path
    name: str
    labels: Path | None = None
    genomics: Path | None = None
    clinical: Path | None = None
    signatures: Path | None = None
    pathways: Path | None = None
    pt_dir: Path | None = None
    h5_dir: Path | None = None
    slides_dir: Path | None = None
    splits: tuple[Path, ...] = ()
    feature_dim: int | None = None
    source: Path | None = None  # the cohort file, if one was used
    endpoint: str | None = None
    layout: str = "folder"
    study: str | None = None
    rna_source: str | None = None
    pathway_set: str | None = None

    def input_paths(self) -> tuple[Path, ...]:
        """Every file and folder this cohort reads (root first, then the cohort file): an output
        must not be written into or over any of them."""
        named = (self.source, self.labels, self.genomics, self.clinical, self.signatures, self.pathways,
                 self.pt_dir, self.h5_dir, self.slides_dir, *self.splits)
        return (self.root, *dict.fromkeys(p for p in named if p is not None))


def resolve_config(path: str | Path) -> CohortConfig:
    """Turn a folder or a cohort file into a :class:`CohortConfig`. Never writes.

    A folder holding ``cohort.toml`` (or ``.yaml``) uses that file.
    """
    p = _path_op(lambda: Path(path).expanduser(), "cohort", "path", str(path))
    if _path_op(lambda: p.is_dir() and p.resolve() == Path(p.resolve().anchor), p, "path", str(path)):
        raise InputError(_ROOT_REFUSED.format(p=p))
    if not _path_op(p.exists, p, "path", str(path)):
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


_ROOT_REFUSED = (
    "{p}: the file-system root cannot be a cohort folder (every file on the machine would be inside it); "
    "give the folder that holds the cohort's tables, e.g. /data/tcga_stad, or a cohort.toml whose root names it."
)


def _from_file(file: Path) -> CohortConfig:
    data = _read_mapping(file)
    unknown = sorted((k for k in data if k not in _KEYS), key=str)
    if unknown:
        raise InputError(
            f"{file}: unknown key(s) {', '.join(short(repr(k)) for k in unknown[:8])}; "
            f"allowed keys are {', '.join(sorted(_KEYS))}."
        )
    base = file.resolve().parent
    root_value = data.get("root", ".")
    if not isinstance(root_value, str) or not root_value:
        raise InputError(f"{file}: 'root' must be a non-empty string path, got {short(repr(root_value), 60)}.")
    root = _path_op(lambda: (base / Path(root_value).expanduser()).resolve(), file, "root", root_value)
    if root == Path(root.anchor):
        raise InputError(f"{file}: root = '{root_value}' — " + _ROOT_REFUSED.format(p=root))
    if not root.is_dir():
        raise InputError(f"{file}: root '{short(root_value, 200)}' resolves to {root}, which is not a folder; fix 'root'.")
    return _discover(root, data, source=file.resolve())


def _read_mapping(file: Path) -> dict:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{file}: cannot read the cohort file ({short(err, 200)}); check it is a UTF-8 text file.") from err
    try:
        if file.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as err:  # tomllib.TOMLDecodeError / yaml.YAMLError
        raise InputError(f"{file}: not valid {file.suffix[1:].upper()} ({short(err, 300)}); fix the syntax.") from err
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
        raise InputError(f"{source}: '{key}' must be a non-empty string path, got {short(repr(value), 60)}.")
    p, ok = _path_op(lambda: _resolved_kind(root, value, f"{source.name if source else 'cohort file'}: {key}", folder),
                     source, key, value)
    if not ok:
        kind = "folder" if folder else "file"
        raise InputError(f"{source}: {key} = '{short(value, 200)}' is not an existing {kind} inside {root}; "
                         f"fix the path or remove the key.")
    return p


def _resolved_kind(root: Path, value: str, what: str, folder: bool) -> tuple[Path, bool]:
    p = resolve_inside(root, value, what=what)
    return p, (p.is_dir() if folder else p.is_file())


def _path_op(fn, source, key: str, value: str):
    """Run a path operation on a user's path; a path the OS cannot use is an InputError naming the key."""
    try:
        return fn()
    except InputError:
        raise
    except (OSError, ValueError, RuntimeError) as err:  # NUL byte, name too long, unknown ~user, ...
        raise InputError(
            f"{source}: {key} = {short(repr(value), 80)} is not a usable path ({type(err).__name__}: {short(err, 120)}); "
            f"give a relative path inside the cohort folder."
        ) from err


def _choice(data: dict, key: str, source: Path | None) -> str | None:
    """A named choice (study, rna_source, pathway_set): a plain name, not a path."""
    if key not in data:
        return None
    v = data[key]
    if not isinstance(v, str) or not _PLAIN_NAME.match(v.strip()):
        example = 'study = "tcga_stad"' if key == "study" else f'{key} = "xena"'
        raise InputError(
            f"{source}: '{key}' must be a plain name (letters, digits, '_', '-', '.'), e.g. {example}; "
            f"got {short(repr(v), 60)}."
        )
    return v.strip()


def _splits(root: Path, data: dict, source: Path | None, found: tuple[Path, ...]) -> tuple[Path, ...]:
    if "splits" not in data:
        return found
    value = data["splits"]
    if isinstance(value, str):
        folder = _named(root, data, "splits", source, folder=True)
        files = split_files_in(folder, root)
        if not files:
            raise InputError(f"{source}: splits = '{value}' holds no splits_<k>.csv files; add them or remove the key.")
        return tuple(files)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        out = []
        for v in value:
            p, ok = _path_op(lambda: _resolved_kind(root, v, f"{source.name if source else 'cohort file'}: splits", False),
                             source, "splits", v)
            if not ok:
                raise InputError(f"{source}: split file '{short(v)}' does not exist inside {root}; fix the list under 'splits'.")
            out.append(p)
        return tuple(out)
    raise InputError(f"{source}: 'splits' must be a folder path or a non-empty list of split CSV paths, got {short(repr(value), 80)}.")


def _feature_dim(data: dict, source: Path | None) -> int | None:
    if "feature_dim" not in data:
        return None
    v = data["feature_dim"]
    if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= 1 << 20:
        raise InputError(f"{source}: feature_dim must be a positive integer (e.g. 1024), got {short(repr(v), 60)}.")
    return v


def _dir(root: Path, data: dict, key: str, source: Path | None, default: str) -> Path | None:
    return _named(root, data, key, source, folder=True) or (
        resolve_inside(root, root / default, what=default) if (root / default).is_dir() else None
    )


def _name(data: dict, root: Path, study: str | None, source: Path | None) -> str:
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{source}: 'name' must be non-empty text, e.g. name = \"TCGA-STAD\"; got {short(repr(name), 60)}. "
                             f"Fix it or remove the key to use the folder name.")
        return name.strip()
    if study:
        return study.upper().replace("_", "-")
    if not root.name.strip():
        raise InputError(f"{root}: the folder has no usable name; set name = \"…\" in a cohort.toml for it.")
    return root.name.strip()


def _discover(root: Path, data: dict, source: Path | None) -> CohortConfig:
    from .tables import read_header

    def header(path: Path) -> list[str]:
        try:
            return read_header(path)
        except InputError:  # not a readable table (e.g. a .zip of slides): not a candidate
            return []

    endpoint = get_endpoint(data["endpoint"], where=f"{source}: endpoint").name if "endpoint" in data else None
    signatures = _named(root, data, "signatures", source, folder=False)
    pathways = _named(root, data, "pathways", source, folder=False)
    if signatures is not None and pathways is not None:
        raise InputError(f"{source}: name either 'signatures' (gene families) or 'pathways' (gene x pathway matrix), not both.")
    genomics = _named(root, data, "genomics", source, folder=False)
    clinical = _named(root, data, "clinical", source, folder=False)
    labels = _named(root, data, "labels", source, folder=False)
    found = discover(
        root,
        study=_choice(data, "study", source),
        rna_source=_choice(data, "rna_source", source),
        pathway_set=_choice(data, "pathway_set", source),
        exclude={p for p in (signatures, pathways, genomics, clinical) if p is not None},
        header=header,
        where=str(source or root),
    )
    if signatures is None and pathways is None:
        signatures, pathways = found.signatures, found.pathways
    return CohortConfig(
        root=root,
        name=_name(data, root, found.study, source),
        labels=labels or found.labels,
        genomics=genomics or found.genomics,
        clinical=clinical or found.clinical,
        signatures=signatures,
        pathways=pathways,
        pt_dir=_dir(root, data, "pt_dir", source, "pt_files"),
        h5_dir=_dir(root, data, "h5_dir", source, "h5_files"),
        slides_dir=_dir(root, data, "slides_dir", source, "slides"),
        splits=_splits(root, data, source, found.splits),
        feature_dim=_feature_dim(data, source),
        source=source,
        endpoint=endpoint,
        layout=found.layout,
        study=found.study,
        rna_source=found.rna_source,
        pathway_set=found.pathway_set,
    )
