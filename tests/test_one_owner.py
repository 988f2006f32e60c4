"""Acceptance: each piece of knowledge has one owner (issue 19).

- Run-folder file names are spelled only by the run-folder owner (``memamba_core/runs/``)
  and its tests; documentation (``*.md``: README, docs/) may name them.
- ``S_k`` survival columns are parsed only there.
- Lists of model names or of a config field's choices exist only in the registry
  (``memamba_core/models/registry.py``) and, for the scan backends, in
  ``memamba_core/ssm/selective_scan.py``, which owns them.

The allow-list is explicit and short; every entry says why it is there.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RUN_FILE_NAMES = ("oof_predictions.csv", "summary.json", "ablations.csv", "progress.jsonl", "meta.json", "model.safetensors",
                  "selection.json", "demo_spec.json", "acceptance.json", "calibration.json", "calibrated_oof.csv")
RUN_OWNER = ("memamba_core/runs/",)
RUN_OWNER_TESTS = ("tests/test_runs_", "tests/test_one_owner.py")

ALLOWED_RUN_NAMES: dict[str, str] = {}

CHOICE_OWNERS = ("memamba_core/models/registry.py", "memamba_core/ssm/backends.py")
ALLOWED_CHOICE_LISTS = {
    "tests/test_ssm.py": "runs each named scan backend on purpose",
}

# The cohort ↔ checkpoint compatibility check is memamba_core/train/compat.py (tests/test_train_compat.py shows that
# training and prediction raise its problems, and that Home lists the same ones); no other code compares a part of it.
OTHER_COMPATIBILITY_CHECKS: dict[str, str] = {}

_TEXT_SUFFIXES = {".py", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".sh", ""}


def _tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        files = out.splitlines()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an unpacked archive)
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]
    return sorted(f for f in files if (ROOT / f).is_file())


def _source_files() -> list[str]:
    """Tracked text files that are code or configuration: not documentation (``*.md``), not the assets' data files."""
    return [f for f in _tracked() if Path(f).suffix in _TEXT_SUFFIXES and not f.startswith("assets/")]


def _owned(path: str, owners: tuple[str, ...]) -> bool:
    return any(path.startswith(o) for o in owners)


def test_run_folder_file_names_are_spelled_only_by_their_owner():
    offenders = {}
    for f in _source_files():
        if _owned(f, RUN_OWNER + RUN_OWNER_TESTS) or f in ALLOWED_RUN_NAMES:
            continue
        text = (ROOT / f).read_text(encoding="utf-8", errors="replace")
        found = [name for name in RUN_FILE_NAMES if name in text]
        if found:
            offenders[f] = found
    assert not offenders, f"run-folder file names outside memamba_core/runs/: {offenders}; use memamba_core.runs (RunPaths, readers, writers)"


def test_survival_columns_are_parsed_only_by_their_owner():
    offenders = []
    for f in _source_files():
        if not f.endswith(".py") or _owned(f, RUN_OWNER + RUN_OWNER_TESTS) or f in ALLOWED_RUN_NAMES:
            continue
        text = (ROOT / f).read_text(encoding="utf-8", errors="replace")
        if 'startswith("S_")' in text or "startswith('S_')" in text or 'f"S_{' in text:
            offenders.append(f)
    assert not offenders, f"S_k columns parsed outside memamba_core/runs/predictions.py: {offenders}"


def _families() -> dict[str, tuple[set[str], int, set[str]]]:
    """family → (its values, how many of them make a list, values one of which must be present)."""
    from memamba_core.models import choices, model_names

    return {
        "model names": (set(model_names()), 2, set()),
        "OT choices": (set(choices("ot")), 2, set()),
        "modality choices": (set(choices("modalities")), 2, {"both"}),  # pathology/genomics alone are expert names
        "optimizer choices": (set(choices("optimizer")), 2, set()),
        "selection choices": (set(choices("selection")), 2, set()),
        "fold choices": (set(choices("folds")), 2, set()),
        "scan backends": (set(choices("backend")), 3, {"auto", "reference"}),  # "cpu"/"cuda" alone are devices
    }


def choice_lists(source: str) -> list[tuple[int, str]]:
    """(line, family) of every tuple / list / set literal listing choices of one family.

    Dict keys are not lists of choices (e.g. counts per modality, ``{"pathology": 4, "both": 3}``).
    """
    families = _families()
    hits = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            continue
        strings = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        for family, (values, at_least, needs_one) in families.items():
            if len(strings & values) >= at_least and (not needs_one or strings & needs_one):
                hits.append((node.lineno, family))
    return hits


def test_the_choice_list_detector_sees_literals_and_ignores_single_values():
    assert choice_lists('x = ("memamba", "abmil")\n') == [(1, "model names")]
    assert choice_lists('st.radio("OT", ["off", "hard", "sinkhorn"])\n') == [(1, "OT choices")]
    assert choice_lists('ok = m in {"both", "genomics"}\n') == [(1, "modality choices")]
    assert choice_lists('cfg.model == "memamba" and dev in ("cpu", "cuda")\nEXPERTS = ("pathology", "genomics")\n') == []
    assert choice_lists('counts = {"pathology": 4, "genomics": 4, "both": 3}\n') == []


def test_model_and_choice_lists_live_only_in_the_registry():
    offenders = {}
    for f in _source_files():
        if not f.endswith(".py") or f in CHOICE_OWNERS or f in ALLOWED_CHOICE_LISTS or f == "tests/test_one_owner.py":
            continue
        hits = choice_lists((ROOT / f).read_text(encoding="utf-8"))
        if hits:
            offenders[f] = hits
    assert not offenders, f"choice lists outside memamba_core/models/registry.py: {offenders}; read them from the registry"


@pytest.mark.parametrize("entry", sorted(ALLOWED_RUN_NAMES) + sorted(ALLOWED_CHOICE_LISTS) + sorted(OTHER_COMPATIBILITY_CHECKS))
def test_allow_list_entries_exist(entry):
    """An entry whose file is gone (or no longer needs it) is removed from the allow-list, not kept."""
    assert (ROOT / entry).is_file(), f"{entry} is allow-listed but does not exist"
