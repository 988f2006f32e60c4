"""``memamba export-qupath RUN COHORT --out DIR`` on the tiny demo and its light checkpoint (the session's).

Every slide gets a GeoJSON whose detections are the bag's patches at their level-0 coordinates (valid
geometries, inside the slide); a rerun resumes without rewriting; a damaged patient is left out with the reason
while the others are exported; an output inside the inputs and an unknown branch are refused (exit 2).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from memamba_core.cli import main
from memamba_core.data import load_cohort
from memamba_core.qupath import MANIFEST, read_qupath_geojson
from memamba_core.slides import open_slide
from tests._train_cohort import one_thread  # noqa: F401 (autouse: torch threads restored after each test)
from tests.e2e.demo_env import tiny_demo


@pytest.fixture(scope="module")
def demo(demo_root):
    return tiny_demo(demo_root)


def _export(run, cohort, out, *extra) -> int:
    return main(["export-qupath", str(run), str(cohort), "--out", str(out), "--num-threads", "1", *extra])


def test_help_says_inputs_outputs_and_examples(capsys):
    with pytest.raises(SystemExit) as ex:
        main(["export-qupath", "--help"])
    assert ex.value.code == 0
    text = capsys.readouterr().out
    assert "example" in text and "QuPath" in text and "resume" in text and "level-0" in text and len(text) > 400


def test_every_slide_at_its_bag_coordinates_then_resumed(demo, tmp_path, capsys):
    cohort_dir, run = demo
    out = tmp_path / "qupath"
    assert _export(run, cohort_dir, out, "--k", "3") == 0
    cohort = load_cohort(cohort_dir)
    slides = [s for c in cohort.case_ids() for s in cohort.patient(c).slide_ids]
    assert f"{len(slides)} slides exported" in capsys.readouterr().out
    for case in cohort.case_ids():
        bag = cohort.load_bag(case)
        for pos, sid in enumerate(bag.slide_ids):
            with open_slide(cohort.slide_path(sid)) as s:
                size = s.dimensions
            f = read_qupath_geojson(out / f"{sid}.geojson", slide_size=size)   # refused if outside the slide
            rows = np.flatnonzero(np.asarray(bag.slide_index) == pos)
            dets = [o for o in f.objects if o.object_type == "detection"]
            assert [int(o.measurements["patch row"]) for o in dets] == rows.tolist()
            for o, r in zip(dets, rows):
                assert o.geometry.is_valid
                assert o.geometry.bounds[:2] == tuple(float(v) for v in bag.coords[r])
                assert {"attention pool", "attention ranked"} <= set(o.measurements)
            tops = [o for o in f.annotations() if o.name and o.name.startswith("top ")]
            assert 1 <= len(tops) <= 3 and all(o.geometry.is_valid for o in f.annotations())
    man = json.loads((out / MANIFEST).read_text())
    assert sorted(man["files"]) == sorted(slides)

    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.geojson")}
    assert _export(run, cohort_dir, out, "--k", "3") == 0                # resumed: nothing rewritten
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.geojson")} == stamps
    assert _export(run, cohort_dir, out, "--k", "5") == 2                # other settings: refused, not mixed
    assert "another run, cohort or settings" in capsys.readouterr().err


def test_a_damaged_patient_is_left_out_and_the_others_exported(demo, tmp_path, capsys):
    cohort_dir, run = demo
    copy = tmp_path / "cohort"
    shutil.copytree(cohort_dir, copy)
    cohort = load_cohort(copy)
    victim = cohort.case_ids()[2]
    for sid in cohort.patient(victim).slide_ids:
        h5 = copy / "h5_files" / f"{sid}.h5"
        h5.write_bytes(h5.read_bytes()[:200])            # truncated
        pt = copy / "pt_files" / f"{sid}.pt"
        if pt.exists():
            pt.write_bytes(pt.read_bytes()[:200])
    out = tmp_path / "qupath"
    assert _export(run, copy, out) == 0
    cap = capsys.readouterr()
    assert f"left out: {victim}" in cap.err
    written = {p.stem for p in out.glob("*.geojson")}
    others = {s for c in cohort.case_ids() if c != victim for s in cohort.patient(c).slide_ids}
    assert written == others


def test_output_inside_the_inputs_and_an_unknown_branch_are_refused(demo, tmp_path, capsys):
    cohort_dir, run = demo
    inside = f"{cohort_dir}/qupath"
    assert _export(run, cohort_dir, inside) == 2
    err = capsys.readouterr().err
    assert "lies inside" in err and str(Path(cohort_dir).resolve()) in err and "inputs are never written" in err
    assert not Path(inside).exists()
    assert _export(run, cohort_dir, f"{run}/qupath") == 2
    err = capsys.readouterr().err
    assert "lies inside" in err and str(Path(run).resolve()) in err
    out = tmp_path / "qupath"
    assert _export(run, cohort_dir, out, "--branch", "nope") == 2
    err = capsys.readouterr().err
    assert "pathology/nope" in err and "pathology/pool" in err
    assert not (out / MANIFEST).exists()
