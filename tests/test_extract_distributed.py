"""``memamba extract`` under torchrun: slides sharded over two CPU ranks (gloo), byte-identical files, resume after a kill."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from memamba_core.demo.render import SlideSpec, make_layout, paint_level0, write_pyramid_tiff
from memamba_core.demo.textures import make_texture_bank
from tests._torchrun import kill_rank_when, memamba, torchrun, torchrun_command

pytestmark = pytest.mark.slow
N_SLIDES = 6


@pytest.fixture(scope="module")
def slides(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("wsi")
    bank = make_texture_bank(9, 256)
    for i in range(N_SLIDES):
        spec = SlideSpec(f"S-{i:02d}.tif", 1280 + 256 * (i % 3), 1024, 0.4, seed=40 + i)
        write_pyramid_tiff(d / spec.slide_id, paint_level0(spec, make_layout(spec), bank), mpp=0.5)
    return d


@pytest.fixture(scope="module")
def one_process(slides, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one")
    proc = memamba(["extract", str(slides), "--out", str(out), "--no-progress", "--batch-size", "16"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _extract_two(slides: Path, out: Path) -> subprocess.CompletedProcess:
    return torchrun(["-m", "memamba_core.cli", "extract", str(slides), "--out", str(out), "--batch-size", "16"])


def test_two_ranks_write_the_same_bytes_as_one_process(slides, one_process, tmp_path):
    proc = _extract_two(slides, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = _files(one_process), _files(tmp_path)
    assert sorted(one) == sorted(two) and len(one) == 2 * N_SLIDES  # h5_files/ + pt_files/, nothing else
    assert all(one[k] == two[k] for k in one)  # .h5 and .pt byte for byte
    out = proc.stdout
    assert f"{N_SLIDES} slide(s) extracted, 0 already done, 0 failed" in out
    assert out.count("slide(s) extracted") == 1  # printed by rank 0 only
    assert "rank 0:" in out and "rank 1:" in out  # the per-rank summary
    assert "r0 " in proc.stderr and "r1 " in proc.stderr  # per-rank progress on the bar


def test_resumes_after_one_rank_is_killed(slides, one_process, tmp_path):
    cmd = torchrun_command(["-m", "memamba_core.cli", "extract", str(slides), "--out", str(tmp_path), "--batch-size",
                            "16", "--no-progress"])
    returncode = kill_rank_when(cmd, lambda: bool(list((tmp_path / "pt_files").glob("*.pt"))), rank=1, what="any slide was written")
    assert returncode != 0
    first = {k for k in _files(tmp_path) if not Path(k).name.startswith(".")}
    assert len(first) < 2 * N_SLIDES  # stopped mid-run
    finished = {Path(k).stem for k in first if k.startswith("pt_files/")}
    # rerun the same command: finished slides are skipped, the rest done, the files as one process writes them
    again = _extract_two(slides, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{N_SLIDES - len(finished)} slide(s) extracted, {len(finished)} already done, 0 failed" in again.stdout
    one = _files(one_process)
    two = {k: v for k, v in _files(tmp_path).items() if not Path(k).name.startswith(".")}  # a killed writer's temporary may remain
    assert sorted(two) == sorted(one) and all(one[k] == two[k] for k in one)
