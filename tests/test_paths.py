"""Safe path resolution, cache folder, and atomic writes."""

import os

import pytest

from memamba_core.errors import InputError
from memamba_core.paths import atomic_write, atomic_write_text, cache_dir, resolve_inside


def test_relative_path_resolves_inside_root(tmp_path):
    (tmp_path / "pt_files").mkdir()
    assert resolve_inside(tmp_path, "pt_files") == (tmp_path / "pt_files").resolve()


@pytest.mark.parametrize("bad", ["../outside.csv", "pt_files/../../x", "/etc/passwd"])
def test_path_escaping_root_is_refused_with_the_fix(tmp_path, bad):
    with pytest.raises(InputError, match="outside the cohort folder") as err:
        resolve_inside(tmp_path, bad, what="labels file")
    assert "labels file" in str(err.value)


def test_symlink_pointing_out_of_root_is_refused(tmp_path):
    root = tmp_path / "cohort"
    root.mkdir()
    (tmp_path / "secret.csv").write_text("x")
    os.symlink(tmp_path / "secret.csv", root / "labels.csv")
    with pytest.raises(InputError):
        resolve_inside(root, "labels.csv")


def test_cache_dir_honours_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMAMBA_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    assert (tmp_path / "c").is_dir()


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "out" / "result.json"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("intact")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as fh:
            fh.write("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "intact"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_atomic_write_gives_files_the_usual_mode(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
