"""The session's input-integrity check (tests/_integrity.py, hooked in tests/conftest.py) sees every change."""

from __future__ import annotations

import subprocess

import pytest

from tests import _integrity


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """A git checkout with one tracked file and a data folder beside it, watched instead of the real ones."""
    repo = tmp_path / "repo"
    (repo / "assets").mkdir(parents=True)
    (repo / "assets" / "model.bin").write_bytes(b"weights")
    (repo / "code.py").write_text("x = 1\n")
    (repo / ".gitignore").write_text("ignored/\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    data = tmp_path / "shared" / "data" / "cohort"
    data.mkdir(parents=True)
    (data / "labels.csv").write_text("case_id\nA\n")
    monkeypatch.setattr(_integrity, "REPO", repo)
    monkeypatch.delenv("MEMAMBA_BLCA", raising=False)
    monkeypatch.delenv("MEMAMBA_STAD", raising=False)
    return repo, data


def test_an_untouched_tree_has_no_changes(fake_repo):
    repo, data = fake_repo
    before = _integrity.snapshot()
    assert str(repo / "code.py") in before and str(data / "labels.csv") in before
    assert str(repo / "assets" / "model.bin") in before
    assert _integrity.changes(before, _integrity.snapshot()) == []


def test_every_kind_of_change_is_named(fake_repo):
    repo, data = fake_repo
    before = _integrity.snapshot()
    (data / "labels.csv").write_text("case_id\nB\n")  # same size, other bytes
    (repo / "assets" / "model.bin").unlink()
    (repo / "assets" / "extra.json").write_text("{}")
    (repo / "left_behind.csv").write_text("a\n")  # untracked, not ignored
    (repo / "ignored").mkdir()
    (repo / "ignored" / "cache.bin").write_bytes(b"ok")  # ignored: not the tree's business
    lines = _integrity.changes(before, _integrity.snapshot())
    assert f"changed: {data / 'labels.csv'}" in lines
    assert f"removed: {repo / 'assets' / 'model.bin'}" in lines
    assert f"added: {repo / 'assets' / 'extra.json'}" in lines
    assert "new file in the checkout: left_behind.csv" in lines
    assert not any("cache.bin" in x for x in lines)


def test_env_folders_replace_the_default_data(fake_repo, tmp_path, monkeypatch):
    repo, data = fake_repo
    other = tmp_path / "blca"
    other.mkdir()
    monkeypatch.setenv("MEMAMBA_BLCA", str(other))
    assert _integrity.watched_roots() == [other.resolve(), (repo / "assets").resolve()]


def test_the_real_session_is_watched():
    """The hook ran for this session (unless turned off) and covers the shipped assets and this file."""
    import os

    if os.environ.get(_integrity.SKIP_ENV):
        pytest.skip("integrity check turned off for this session")
    snap = _integrity.snapshot()
    assert str(_integrity.REPO / "tests" / "conftest.py") in snap
    assert any(k.startswith(str(_integrity.REPO / "assets")) for k in snap)
