"""Light start-up: what the dashboard's Home and cohort pages read (a cohort's tables, a run's out-of-fold
predictions and summary, a fold's card, the model and choice lists) imports neither torch nor lifelines nor
scikit-survival, and importing the library has no side effects on torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._cohort_fixtures import make_clam_cohort

HEAVY = ("torch", "lifelines", "sksurv")
ASSET_RUN = Path(__file__).resolve().parent.parent / "assets" / "demo-model-full"  # the shipped demo run folder


def _child(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    prelude = "import json, sys\nHEAVY = %r\ndef heavy(): return [m for m in HEAVY if m in sys.modules]\n" % (HEAVY,)
    proc = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    # h5 and pt feature files, genomics, splits: everything a cohort page reads the tables of
    return make_clam_cohort(tmp_path_factory.mktemp("light"), n_patients=8, feature_dim=16, n_splits=2)


def test_a_cohort_loads_without_torch(cohort):
    out = _child(f"""
import memamba_core.data
after_import = heavy()
c = memamba_core.data.load_cohort({str(cohort)!r})
c.summary(); c.clinical_frame(); c.genomic_matrix()  # what the cohort pages show
print(json.dumps({{"after_import": after_import, "after_load": heavy(), "patients": len(c.patients),
                  "width": c.feature_dim(), "groups": list(c.groups.names), "splits": len(c.splits)}}))
""")
    assert out["after_import"] == [] and out["after_load"] == []
    assert out["patients"] == 8 and out["width"] == 16 and out["splits"] == 2 and len(out["groups"]) == 2
    # the light path is the real one: reading a bag afterwards brings torch in and gives the tensor
    bag = _child(f"""
import memamba_core.data
c = memamba_core.data.load_cohort({str(cohort)!r})
b = c.load_bag(c.case_ids()[1])
tokens = c.genomic_tokens(c.case_ids()[1], c.fit_scaler(c.case_ids()))
print(json.dumps({{"heavy": heavy(), "type": type(b.features).__name__, "shape": list(b.features.shape),
                  "tokens": [type(t).__name__ for t in tokens]}}))
""")
    assert "torch" in bag["heavy"] and bag["type"] == "Tensor" and bag["shape"][1] == 16
    assert bag["tokens"] == ["Tensor", "Tensor"]


@pytest.mark.skipif(not (ASSET_RUN / "fold_0").is_dir(), reason="the shipped demo run folder is not in this checkout")
def test_a_run_folder_and_its_fold_card_read_without_torch():
    out = _child(f"""
from memamba_core.runs import read_oof, read_summary
from memamba_core.app import fold_card
run = {str(ASSET_RUN)!r}
oof = read_oof(run)
summary = read_summary(run)
card = fold_card(run)
print(json.dumps({{"heavy": heavy(), "n": len(oof.to_frame()), "has_summary": summary is not None,
                  "model": card.model, "fold": card.fold}}))
""")
    assert out["heavy"] == []
    assert out["n"] > 0 and out["model"] == "memamba" and out["fold"] == 0


def test_model_and_choice_lists_without_torch():
    out = _child("""
from memamba_core.models import ModelConfig, choices, describe, model_entry, model_names, model_reads
names = model_names()
described = [describe(n) for n in names]
reads = {n: list(model_reads(n)) for n in names}
ModelConfig(model="snn", backend="cpu", modalities="genomics")
lists = {f: list(choices(f)) for f in ("backend", "ot", "modalities", "parallel")}
switches = list(model_entry("memamba").switches)
before = heavy()
cls = model_entry("abmil").cls  # the class is imported when asked for
print(json.dumps({"heavy": before, "names": list(names), "reads": reads, "lists": lists, "switches": switches,
                  "cls": cls.__name__, "after": heavy()}))
""")
    assert out["heavy"] == []
    from memamba_core.models.registry import MODELS

    assert out["names"] == [e.name for e in MODELS] and out["names"][0] == "memamba"
    assert out["reads"]["snn"] == ["genomics"] and out["reads"]["memamba"] == ["pathology", "genomics"]
    assert "cpu" in out["lists"]["backend"] and out["lists"]["parallel"] == ["auto", "folds", "data"]
    assert "ot" in out["switches"]
    assert out["cls"] == "ABMIL" and "torch" in out["after"]


def test_importing_the_library_leaves_torch_as_it_was():
    out = _child("""
import torch
threads = torch.get_num_threads()
seed = torch.initial_seed()
import memamba_core.data, memamba_core.models, memamba_core.runs, memamba_core.app, memamba_core.ssm, memamba_core.train
import memamba_core.train.cv, memamba_core.models.memamba, memamba_core.models.baselines
print(json.dumps({"threads": [threads, torch.get_num_threads()], "seed": [seed, torch.initial_seed()]}))
""")
    assert out["threads"][0] == out["threads"][1] and out["seed"][0] == out["seed"][1]


def test_the_registered_classes_are_the_ones_the_entries_name():
    from memamba_core.models import model_entry, model_names

    for name in model_names():
        entry = model_entry(name)
        module, _, qualname = entry.where.partition(":")
        assert entry.cls.__module__ == module and entry.cls.__qualname__ == qualname


@pytest.mark.slow
def test_home_and_cohort_survival_pages_draw_without_torch(demo_root):
    """The real pages under AppTest in a fresh interpreter: Home (cohort summary, model card, compatibility) and
    Cohort survival (the out-of-fold KM view) import no torch; the KM view brings lifelines in itself."""
    import os

    from tests.e2e.demo_env import env

    home = Path(__file__).resolve().parent.parent / "dashboard" / "Home.py"
    code = f"""
import json, sys
sys.path.insert(0, {str(home.parent)!r})
from streamlit.testing.v1 import AppTest
heavy = lambda: [m for m in ("torch", "lifelines", "sksurv") if m in sys.modules]
at = AppTest.from_file({str(home)!r}, default_timeout=300)
at.run()
card = next((t.value for t in at.table if "fits this cohort" in t.value.index), None)
out = {{"home": heavy(), "home_errors": [str(e.value) for e in at.exception],
       "fits": None if card is None else str(card["value"]["fits this cohort"])}}
at.switch_page("app_pages/1_Cohort_survival.py")
at.run()
out.update(survival=heavy(), survival_errors=[str(e.value) for e in at.exception],
           per_group=any("Per group" in m.value for m in at.markdown) or any("Per group" in s.value for s in at.subheader))
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env(demo_root)}, cwd=str(home.parent.parent))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["home_errors"] == [] and out["survival_errors"] == []
    assert out["fits"] == "yes"  # the model card and the compatibility check were drawn
    assert out["home"] == []
    assert "torch" not in out["survival"] and "lifelines" in out["survival"] and out["per_group"]
