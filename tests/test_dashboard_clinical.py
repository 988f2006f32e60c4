"""The Patient page's calibrated part and the Model-quality page (AppTest, tiny demo), and their library side
(memamba_core.app.clinical) on a tiny trained run: who scores whom, clinical terms, bad input → messages."""

import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from memamba_core.app import clinical as C
from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.runs import RunPaths, read_fold_meta, read_progress
from memamba_core.train.scoring import RunModels
from tests.e2e.demo_env import tiny_demo
from tests.test_dashboard import HOME, TIMEOUT, _arr, _figure, _metric, _ok
from tests.test_report_pdf import needs_poppler

LEVELS = ("low", "intermediate", "high")


@pytest.fixture()
def app(app_env):
    def make(page: str, **session) -> AppTest:
        at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
        for k, v in session.items():
            at.session_state[k] = v
        at.switch_page(f"app_pages/{page}")
        return at

    return make


def _rename(src: Path, dst: Path, drop: tuple = (), prefix: str | None = None) -> str:
    """A copy of a cohort folder: case ids renamed (``prefix``) and no split files, or clinical columns dropped."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("splits*"))
    labels = pd.read_csv(dst / "labels.csv")
    if prefix:
        labels["case_id"] = prefix + labels["case_id"].astype(str)
    labels.drop(columns=[c for c in drop if c in labels.columns]).to_csv(dst / "labels.csv", index=False)
    return str(dst)


def _table(at: AppTest, column: str) -> pd.DataFrame:
    """The first dataframe shown with ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _headline(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Scored by") or m.value.startswith("**Ensemble"))


# ---------------------------------------------------------------- the pages (AppTest)


def test_every_patient_on_the_page_is_scored_by_a_fold_model_that_did_not_train_on_them(app, demo_root):
    _, run = tiny_demo(demo_root)
    assert any(r.get("event") == "calibration" and r["ok"] for r in read_progress(run))  # training stored it
    at = _ok(app("2_Patient.py").run())
    ids = at.selectbox(key="_w_case_id").options
    assert len(ids) >= 6
    train_ids = {f.fold: set(read_fold_meta(f).train_case_ids) for f in RunPaths(run).fold_dirs()}
    for cid in ids:
        at.selectbox(key="_w_case_id").set_value(cid).run()
        _ok(at)
        head = _headline(at)
        k = int(head.split("fold ")[1].split(" ")[0])
        assert "did not train on this patient" in head and cid not in train_ids[k], (cid, head)
        assert _metric(at, "Risk group") in LEVELS
    # what a clinician reads: probabilities with intervals, the median, the curve with its band against the cohort KM
    surv = next(m for m in at.metric if m.label.startswith("Survival at "))
    assert surv.value.endswith("%") and "Interval" in surv.help
    fig = _figure(at, "clin_plot")
    names = [t.get("name", "") for t in fig["data"]]
    assert any("cohort Kaplan" in n for n in names) and "this patient" in names and any("bootstrap" in n for n in names)
    assert _table(at, "horizon (months)").shape[0] >= 1
    assert any("Raw risk" in c.value for c in at.caption)  # the raw risk lives in the details expander
    assert at.get("download_button")


def test_a_patient_outside_the_splits_is_scored_by_the_ensemble(app, demo_root, tmp_path):
    cohort, run = tiny_demo(demo_root)
    new = _rename(Path(cohort), tmp_path / "new", prefix="NEW-")
    at = _ok(app("2_Patient.py", cohort_source=new).run())
    head = _headline(at)
    n = len(RunPaths(run).fold_dirs())
    assert head.startswith(f"**Ensemble of {n} fold models")
    assert any("range across" in (m.help or "") for m in at.metric if m.label.startswith("Survival at "))
    assert any("Spread across" in c.value for c in at.caption)


def _without_genomics(demo_root, tmp_path) -> tuple[str, str]:
    """(a copy of the tiny demo whose first patient has no genomics, that patient's id)."""
    cohort, _ = tiny_demo(demo_root)
    dst = tmp_path / "nogen"
    shutil.copytree(cohort, dst)
    labels = pd.read_csv(dst / "labels.csv")
    labels.loc[0, [c for c in labels.columns if c.endswith(("_rnaseq", "_cnv"))]] = np.nan
    labels.to_csv(dst / "labels.csv", index=False)
    return str(dst), str(labels.loc[0, "case_id"])


def test_a_missing_modality_is_said_and_the_patient_still_scored(app, demo_root, tmp_path):
    dst, cid = _without_genomics(demo_root, tmp_path)
    at = _ok(app("2_Patient.py", cohort_source=dst, case_id=cid).run())
    assert at.session_state["case_id"] == cid
    info = [i.value for i in at.info if "Missing modality" in i.value]
    assert info and "genomics" in info[0] and "ablation table" in info[0], [i.value for i in at.info]
    assert "did not train on this patient" in _headline(at) and _metric(at, "Risk group") in LEVELS


def test_what_drives_the_risk_is_shown_with_directions_from_the_scoring_model(app, demo_root):
    """The page's drivers are the library's (memamba_core.app.patient_drivers) for the model that scored the patient."""
    cohort_dir, run = tiny_demo(demo_root)
    at = _ok(app("2_Patient.py").run())
    cid = at.session_state["case_id"]
    mods = _table(at, "expert weight")
    assert set(mods["modality"]) == {"pathology", "genomics"}
    assert set(mods["direction"]) <= {"towards higher risk", "towards lower risk", "no effect"}
    want = C.patient_drivers(RunModels.load(run), load_cohort(cohort_dir), C.run_calibration(run)[0], cid)
    assert want.units.startswith("scale-free")
    groups = _figure(at, "drivers_groups")["data"][0]
    shown = dict(zip(groups["y"], _arr(groups["x"]).tolist()))
    assert shown == pytest.approx({g.group: g.effect for g in want.groups}, rel=1e-6)
    for name, x in shown.items():  # red towards higher risk, blue towards lower
        colour = list(groups["marker"]["color"])[list(groups["y"]).index(name)]
        assert colour == ("#b2182b" if x >= 0 else "#2166ac")
    genes = _figure(at, "drivers_genes")["data"][0]
    assert set(genes["y"]) == {x.gene for x in want.genes[:12]}
    # inside a group: that group's genes, largest effect first, each with its direction
    last = want.groups[-1]
    at.selectbox(key="drivers_group").set_value(last.group).run()
    inside = _table(_ok(at), "inputs")
    assert list(inside["gene"]) == [x.gene for x in last.genes[:12]]
    assert all((e > 0) == (d == "towards higher risk") for e, d in zip(inside["effect"], inside["direction"]) if e != 0)
    patches = _table(at, "attention")
    assert len(patches) == len(want.patches) > 0 and list(patches["patch"]) == [p.index for p in want.patches]


def test_drivers_of_a_patient_without_genomics_say_it_is_missing(app, demo_root, tmp_path):
    dst, cid = _without_genomics(demo_root, tmp_path)
    at = _ok(app("2_Patient.py", cohort_source=dst, case_id=cid).run())
    mods = _table(at, "expert weight").set_index("modality")
    assert mods.loc["genomics", "direction"].startswith("missing") and mods.loc["pathology", "direction"] == "the only modality present"
    assert any("No gene attributions" in c.value for c in at.caption)


def test_horizons_beyond_follow_up_are_a_message_and_the_page_keeps_working(app):
    at = _ok(app("2_Patient.py").run())
    at.text_input(key="clin_horizons").set_value("900").run()
    _ok(at)
    assert any("beyond the follow-up" in e.value for e in at.error)
    assert _metric(at, "Risk group") in LEVELS  # the automatic horizons still shown
    at.text_input(key="clin_horizons").set_value("abc").run()
    assert any("not a list of months" in e.value for e in _ok(at).error)
    at.text_input(key="clin_horizons").set_value("2, 4").run()
    _ok(at)
    assert not at.error and {"2", "4"} == set(_table(at, "horizon (months)")["horizon (months)"])


def test_a_run_without_calibration_says_so_and_can_be_calibrated_from_the_page(app, demo_root, tmp_path):
    _, run = tiny_demo(demo_root)
    bare = tmp_path / "bare-run"
    shutil.copytree(run, bare)
    RunPaths(bare).calibration.unlink()
    at = _ok(app("2_Patient.py", model_source=str(bare)).run())
    assert any("no stored calibration" in w.value for w in at.warning)
    assert _metric(at, "Raw risk (chosen checkpoint)")
    q = _ok(app("6_Model_quality.py", model_source=str(bare)).run())
    assert any("No calibration to assess" in w.value for w in q.warning)
    at.button(key="calibrate_run").click().run()
    _ok(at)
    assert RunPaths(bare).calibration.is_file() and not at.warning
    assert _metric(at, "Risk group") in LEVELS


def test_model_quality_page(app):
    at = _ok(app("6_Model_quality.py").run())
    assert not at.error, [e.value for e in at.error]
    for key in ("mq_calibration", "mq_brier", "mq_auc", "mq_gain", "mq_cindex"):
        assert _figure(at, key)["data"]
    assert float(_metric(at, "IBS, calibrated model")) > 0 and float(_metric(at, "IBS, Kaplan–Meier null")) > 0
    assert 0 <= float(_metric(at, "C-index (pooled)")) <= 1
    per_fold = _table(at, "vs_km")
    assert set(per_fold["vs_km"]) <= {"better", "worse", "within noise", "undefined"}
    assert (per_fold["ibs_gain_low"] <= per_fold["ibs_gain"]).all() and (per_fold["ibs_gain"] <= per_fold["ibs_gain_high"]).all()
    assert "paired bootstrap" in next(m.help for m in at.metric if m.label == "Folds better than KM")
    cal = _table(at, "predicted")
    assert {"predicted", "observed", "lower", "upper"} <= set(cal.columns)
    forest = [c for c in at.get("plotly_chart") if "mq_forest" in c.proto.id]
    assert forest or any("No multivariable Cox" in i.value for i in at.info)


def test_model_quality_without_clinical_variables_says_so(app, demo_root, tmp_path):
    cohort, _ = tiny_demo(demo_root)
    bare = _rename(Path(cohort), tmp_path / "noclin", drop=("age", "is_female", "oncotree_code", "sex", "gender"))
    at = _ok(app("6_Model_quality.py", cohort_source=bare).run())
    assert any("no clinical variables" in i.value for i in at.info), [i.value for i in at.info]
    assert _figure(at, "mq_brier")["data"]  # the rest of the page still works


def test_patient_page_warm_render_time(app, capsys):
    """Measured, not asserted (speed targets live in benchmarks/): the warm rerun of a drawn Patient page."""
    at = _ok(app("2_Patient.py").run())
    t0 = time.perf_counter()
    at.run()
    warm = time.perf_counter() - t0
    _ok(at)
    with capsys.disabled():
        print(f"\nPatient page warm AppTest rerun: {warm:.2f} s")


# ---------------------------------------------------------------- the library side (memamba_core.app.clinical)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tests._train_cohort import trained_run

    cohort, run = trained_run(tmp_path_factory)
    models = RunModels.load(run)
    maps, why = C.run_calibration(run)
    assert maps is not None, why
    return cohort, run, models, maps


def test_patient_clinical_out_of_fold_and_ensemble(trained, tmp_path):
    cohort, run, models, maps = trained
    for cid in cohort.case_ids():
        pc = C.patient_clinical(models, cohort, maps, cid)
        k = pc.prediction.folds[0]
        assert pc.mode == "out-of-fold" and pc.n_models == 1 and cid not in models.folds[k].train_case_ids
        assert pc.headline == f"Scored by fold {k} (did not train on this patient)"
        p = pc.prediction
        assert p.risk_group in LEVELS and 0 <= p.percentile <= 100
        assert all(0 <= iv.low <= iv.value <= iv.high <= 1 for iv in p.horizons.values())
        assert np.all(np.diff(p.survival) <= 1e-12) and np.all(p.lower <= p.survival + 1e-12)
    new = load_cohort(_rename(Path(cohort.root), tmp_path / "new", prefix="NEW-"))
    pc = C.patient_clinical(models, new, maps, new.case_ids()[0])
    assert pc.mode == "ensemble" and pc.n_models == len(models.folds) and pc.headline.startswith(f"Ensemble of {len(models.folds)}")
    assert pc.spread[0] <= pc.spread[1] and "range across" in pc.prediction.interval_kind


def test_patient_drivers_follow_who_scores_whom(trained, tmp_path):
    from memamba_core.explain import explain_patient, mean_drivers

    cohort, run, models, maps = trained
    cid = cohort.case_ids()[0]
    d = C.patient_drivers(models, cohort, maps, cid)
    (k,) = models.who_scores(cid)[1]
    one = explain_patient(models.folds[k], cohort, cid, cal=maps[k], steps=8)
    assert d == one  # out-of-fold: the one fold model that did not train on the patient
    new = load_cohort(_rename(Path(cohort.root), tmp_path / "new", prefix="NEW-"))
    nid = new.case_ids()[0]
    e = C.patient_drivers(models, new, maps, nid)
    assert e == mean_drivers([explain_patient(models.folds[f], new, nid, cal=maps[f], steps=8) for f in sorted(models.folds)])
    rows = e.groups[0].gene_rows(5)
    assert len(rows) == min(5, len(e.groups[0].genes)) and list(rows["effect"].abs()) == sorted(rows["effect"].abs(), reverse=True)
    assert all(r.direction == ("towards higher risk" if r.effect > 0 else "towards lower risk") for r in rows.itertuples() if r.effect)
    with pytest.raises(InputError, match="not in cohort"):
        C.patient_drivers(models, cohort, maps, "NOPE")


def test_bad_input_gives_messages(trained, tmp_path):
    cohort, run, models, maps = trained
    cid = cohort.case_ids()[0]
    with pytest.raises(InputError, match="beyond the follow-up"):
        C.patient_clinical(models, cohort, maps, cid, horizons=[10_000])
    with pytest.raises(InputError, match="not in cohort"):
        C.patient_clinical(models, cohort, maps, "NOPE")
    with pytest.raises(InputError, match="not a list of months"):
        C.parse_horizons("1 year")
    assert C.parse_horizons(" ") is None and C.parse_horizons("24, 12") == (12.0, 24.0)
    # a patient with neither modality: no patch features and no genomic values
    root = Path(shutil.copytree(cohort.root, tmp_path / "neither"))
    labels = pd.read_csv(root / "labels.csv")
    labels.loc[0, [c for c in labels.columns if c.endswith("_rnaseq")]] = np.nan
    labels.to_csv(root / "labels.csv", index=False)
    (root / "pt_files" / f"{Path(labels.loc[0, 'slide_id']).stem}.pt").unlink()
    sick = load_cohort(root)
    with pytest.raises(InputError, match="none of the data this model reads|neither|no modality|none of the modalities"):
        C.patient_clinical(models, sick, maps, labels.loc[0, "case_id"])
    # no clinical variables: the quality views still come, with the Cox message
    q = C.model_quality(run, cohort, maps)
    assert q.cox is None and "no clinical variables" in q.cox_message
    assert q.brier.loc["mean", "ibs_model"] > 0 and not q.calibration.empty


def test_page_horizons():
    assert C.page_horizons(80) == (12.0, 36.0, 60.0)
    assert C.page_horizons(40) == (12.0, 36.0)  # 1 and 3 years inside, 5 beyond
    assert C.page_horizons(30) == (12.0, 24.0)
    assert C.page_horizons(14) == (6.0, 12.0)
    assert C.page_horizons(9) == (3.0, 6.0)
    with pytest.raises(InputError, match="too short"):
        C.page_horizons(0.5)


def test_missing_modality_costs_come_from_the_ablation_table(trained, tmp_path):
    cohort, run, models, maps = trained
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    pd.DataFrame({"variant": ["full", "pathology_only", "genomics_only"], "changes": ["{}", "{}", "{}"],
                  "c_index_mean": [0.70, 0.66, 0.61]}).to_csv(RunPaths(dst).ablations, index=False)
    assert "0.610 against 0.700" in C._missing_cost(dst, ["pathology"])
    assert C._missing_cost(run, ["pathology"]) == ""  # no table: nothing claimed


@needs_poppler
def test_patient_pdf_bytes(trained, tmp_path):
    from tests.test_report_pdf import pdf_text

    cohort, run, models, maps = trained
    cid = cohort.case_ids()[1]
    out = tmp_path / "p.pdf"
    out.write_bytes(C.patient_report_pdf(models, cohort, maps, cid))
    text = pdf_text(out)
    assert f"Patient {cid}" in text and "Risk group" in text and Path(run).name in text
