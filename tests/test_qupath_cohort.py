"""The whole-cohort QuPath export (what ``memamba export-qupath RUN COHORT --out DIR`` calls)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from shapely.geometry import shape

from memamba_core.errors import InputError
from memamba_core.qupath import MANIFEST, export_cohort_qupath, read_qupath_geojson
from tests._cohort_fixtures import make_clam_cohort
from tests._train_cohort import tiny_train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A CLAM cohort (8 patients, one with two slides) with normal features, and a tiny model trained on it."""
    from memamba_core.data import load_cohort
    from memamba_core.train import load_checkpoint, train_cv

    base = tmp_path_factory.mktemp("qupath_cohort")
    root = make_clam_cohort(base, n_patients=8, feature_dim=8, with_pt=False)
    rng = np.random.default_rng(0)
    for h5 in sorted((root / "h5_files").glob("*.h5")):   # the fixture's features encode coordinates (huge values)
        with h5py.File(h5, "r+") as f:
            f["features"][...] = rng.normal(size=f["features"].shape).astype(np.float32)
    cohort = load_cohort(root)
    train_cv(cohort, tiny_train(epochs=1), base / "run", progress=False)
    return cohort, load_checkpoint(base / "run"), base


def test_every_slide_exported_at_its_bag_coordinates(trained, tmp_path):
    from memamba_core.train import predict_patient

    cohort, loaded, _ = trained
    seen = []
    res = export_cohort_qupath(loaded, cohort, tmp_path / "out", k=3, progress=lambda d, t, c: seen.append((d, t, c)))
    slides = [s for c in cohort.case_ids() for s in cohort.patient(c).slide_ids]
    assert sorted(res.files) == sorted(slides) and res.skipped == []
    assert seen[-1][:2] == (8, 8)
    case = cohort.case_ids()[0]
    out, bag = predict_patient(loaded, cohort, case)
    assert len(bag.slide_ids) == 2                                   # the multi-slide patient
    for pos, sid in enumerate(bag.slide_ids):
        f = read_qupath_geojson(tmp_path / "out" / res.files[sid])
        dets = [o for o in f.objects if o.object_type == "detection"]
        rows = np.flatnonzero(bag.slide_index == pos)
        assert [int(o.measurements["patch row"]) for o in dets] == rows.tolist()
        for o, r in zip(dets, rows):
            x0, y0, _, _ = o.geometry.bounds
            assert (x0, y0) == tuple(float(v) for v in bag.coords[r])      # level-0 coordinates of the bag
            assert o.measurements["attention pool"] == pytest.approx(float(out.attention["pathology/pool"][r]), rel=1e-5)
        assert sum(1 for o in f.objects if o.name and o.name.startswith("top ")) <= 3
        assert all(shape(o.geometry.__geo_interface__).is_valid for o in f.objects)
    man = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert man["settings"]["k"] == 3 and sorted(man["files"]) == sorted(slides)


def test_resume_keeps_finished_slides_and_refuses_foreign_folders(trained, tmp_path):
    cohort, loaded, base = trained
    out = tmp_path / "out"
    first = export_cohort_qupath(loaded, cohort, out, case_ids=cohort.case_ids()[:2])
    stamp = {p.name: p.stat().st_mtime_ns for p in out.glob("*.geojson")}
    again = export_cohort_qupath(loaded, cohort, out)
    assert set(first.files) < set(again.files)
    assert all((out / n).stat().st_mtime_ns == t for n, t in stamp.items())   # finished slides not rewritten
    with pytest.raises(InputError, match="another run, cohort or settings"):
        export_cohort_qupath(loaded, cohort, out, k=7)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a QuPath export of this project"):
        export_cohort_qupath(loaded, cohort, foreign)
    assert (foreign / "notes.txt").read_text() == "mine"
    for inside in (cohort.root / "qupath", base / "run" / "qupath", cohort.root):
        with pytest.raises(InputError, match="inputs are never (written|overwritten)"):
            export_cohort_qupath(loaded, cohort, inside)
        assert not (cohort.root / "qupath").exists() and not (base / "run" / "qupath").exists()


def test_a_bad_patient_is_left_out_not_the_cohort(trained, tmp_path):
    import shutil

    from memamba_core.data import load_cohort

    cohort, loaded, _ = trained
    copy = tmp_path / "cohort"
    shutil.copytree(cohort.root, copy)
    victim = cohort.patient(cohort.case_ids()[1]).slide_ids[0]
    h5 = next((copy / "h5_files").glob(f"{victim.split('.')[0]}*.h5"))
    h5.write_bytes(h5.read_bytes()[:200])   # truncated
    res = export_cohort_qupath(loaded, load_cohort(copy), tmp_path / "out")
    assert victim not in res.files and len(res.files) == 8
    assert any(cohort.case_ids()[1] in s for s in res.skipped)
