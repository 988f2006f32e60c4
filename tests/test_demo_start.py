"""The demo on a first start: shipped tables, the background builder, byte-identical output."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from memamba_core.demo import build_status, demo_dir, demo_spec, get_profile, prepare_demo, start_build
from memamba_core.demo import background, shipped
from memamba_core.demo.build import ensure_demo
from tests.e2e.demo_env import PROFILE, tiny_demo
from tests._demo_files import demo_hashes


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMAMBA_CACHE", str(tmp_path))
    yield tmp_path
    for child in list(background._CHILDREN.values()):  # builders run in their own session: stop what we started
        if child.poll() is None:
            os.killpg(child.pid, 15)
            child.wait(30)


@pytest.mark.parametrize("profile", ["tiny", "full"])
def test_shipped_tables_are_for_the_current_generator(profile):
    """assets/demo-<profile>-tables were exported from a build by today's generator (else a first start would
    show another cohort until its build ends): regenerate with ``python -m memamba_core.demo --export-tables``."""
    p = get_profile(profile)
    d = shipped.shipped_tables_dir(p)
    assert json.loads((d / shipped.SPEC_FILE).read_text()) == demo_spec(p)
    assert all((d / f).is_file() for f in shipped.table_files(p))


def test_shipped_tiny_tables_are_the_generated_bytes(demo_root):
    root = Path(tiny_demo(demo_root)[0])
    assert shipped.differing_tables(root, get_profile(PROFILE)) == []


@pytest.mark.slow
def test_shipped_full_tables_are_the_generated_bytes(fresh_cache):
    """The full demo built here (minutes) writes exactly the shipped tables."""
    root = ensure_demo("full")
    assert shipped.differing_tables(root, get_profile("full")) == []


def test_prepare_places_the_tables_and_the_partial_folder_loads(fresh_cache):
    from memamba_core.data import load_cohort

    root, loadable = prepare_demo(PROFILE)
    assert loadable and root == demo_dir(PROFILE) and not (root / "slides").exists()
    c = load_cohort(root)
    assert len(c.patients) == get_profile(PROFILE).n_patients and c.groups is not None
    assert not any(c.has_pathology(i) for i in c.case_ids()) and any("pathology" in i for i in c.issues)
    assert not build_status(PROFILE, need_model=False).tables  # nothing recorded yet: a builder must be started


def test_stale_shipped_tables_are_not_used(fresh_cache, tmp_path_factory, monkeypatch):
    assets = tmp_path_factory.mktemp("assets")
    p = get_profile(PROFILE)
    shipped.export_tables(shipped.shipped_tables_dir(p), p, {**demo_spec(p), "version": -1}, assets / f"demo-{p.name}-tables")
    monkeypatch.setattr(shipped, "ASSETS", assets)
    root, loadable = prepare_demo(PROFILE)
    assert not loadable and not (root / "labels.csv").exists()


@pytest.mark.slow
def test_background_build_is_byte_identical_to_the_in_process_build(fresh_cache, demo_root):
    """The background builder (one slide process here): the cohort loads from its shipped tables before the slides
    are done, the status says how far it is, and the result equals the session's in-process build (two slide
    processes) byte for byte."""
    s = start_build(PROFILE, model=False, workers=1)
    assert s.state == "building"
    assert start_build(PROFILE, model=False).state == "building" and len(background._CHILDREN) == 1  # one builder
    seen, end = [], time.time() + 400
    while (s := build_status(PROFILE, need_model=False)).state == "building" and time.time() < end:
        seen.append((s.tables, s.slides_done))
        time.sleep(0.1)
    assert s.state == "ready", (s.state, s.error, s.log)
    assert any(t and n < s.n_slides for t, n in seen), "the tables should be in place before the last slide"
    assert [n for _, n in seen] == sorted(n for _, n in seen)
    assert demo_hashes(demo_dir(PROFILE)) == demo_hashes(Path(tiny_demo(demo_root)[0]))
    log = (fresh_cache / f".demo-{PROFILE}.build.log").read_text()
    assert "Traceback" not in log


def test_only_one_builder_runs(fresh_cache, capsys):
    with background._builder_lock(get_profile(PROFILE)) as mine:
        assert mine
        assert background.run_build(PROFILE, model=False) == 0
    assert "another build process is running" in capsys.readouterr().out
    assert not demo_dir(PROFILE).exists()


def test_a_demo_built_without_the_builder_is_ready(fresh_cache, demo_root, monkeypatch):
    """A cohort and checkpoint made in-process (``ensure_demo`` / ``ensure_demo_model``, no status record) are
    ready as they are: the pages open them instead of starting a builder and waiting on it."""
    import shutil
    from dataclasses import replace

    from memamba_core.train import demo_model

    cohort, run = tiny_demo(demo_root)
    shutil.copytree(cohort, demo_dir(PROFILE))
    s = build_status(PROFILE, need_model=True)
    assert s.state == "absent" and not s.model  # the cohort is there, no checkpoint: a builder must make it
    assert build_status(PROFILE, need_model=False).state == "ready"
    cfg = demo_model.demo_train_config
    monkeypatch.setattr(demo_model, "demo_train_config", lambda p="full": replace(cfg(p), n_folds=3))  # the light run
    shutil.copytree(run, demo_model.demo_model_dir(PROFILE))
    assert build_status(PROFILE, need_model=True).state == "absent"  # a run of another generator is not the demo's
    demo_model.write_demo_spec(demo_model.demo_model_dir(PROFILE), demo_spec(PROFILE))
    s = build_status(PROFILE, need_model=True)
    assert s.state == "ready" and s.model == str(demo_model.demo_model_dir(PROFILE))
