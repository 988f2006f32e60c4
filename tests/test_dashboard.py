"""Every dashboard page under streamlit.testing's AppTest, on the tiny demo cohort and its demo checkpoint.

Each test checks: no exception, the key elements present, and that the main
widgets change what is shown. Bad input (paths, checkpoints) must give an
error message and leave the app working.
"""

import base64
import json
from pathlib import Path

import numpy as np

import pytest
import torch
from streamlit.testing.v1 import AppTest

from tests.e2e.demo_env import tiny_demo
from memamba_core.runs import RunPaths

TIMEOUT = 180
HOME = str(Path(__file__).resolve().parents[1] / "dashboard" / "Home.py")


@pytest.fixture()
def app(app_env):
    """Factory of AppTests: Home, or a page reached from Home (as the real app runs its pages)."""

    def make(page: str | None = None, **session) -> AppTest:
        at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
        for k, v in session.items():
            at.session_state[k] = v
        if page:
            at.switch_page(f"app_pages/{page}")
        return at

    return make


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _figure(at: AppTest, key: str) -> dict:
    charts = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    assert charts, f"no plotly chart with key {key}"
    return json.loads(charts[0].proto.spec)


def _arr(v) -> np.ndarray:
    """A Plotly JSON array (a list, or the typed-array form ``{"bdata": …, "dtype": …}``)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _items(at: AppTest) -> set:
    return set().union(*(set(t.value.index) for t in at.table))


def test_home_shows_demo_cohort_model_card_and_runtime(app, demo_root):
    at = _ok(app().run())
    from memamba_core.data import load_cohort

    cohort = load_cohort(tiny_demo(demo_root)[0])
    assert _metric(at, "Patients") == str(len(cohort.patients))
    assert {"patients", "genomic tokens (G)", "model", "fits this cohort"} <= _items(at)
    card = next(t.value for t in at.table if "fits this cohort" in t.value.index)["value"]
    assert card["fits this cohort"] == "yes" and card["model"].startswith("memamba")
    assert _metric(at, "Run: folds") == "3" and "±" in _metric(at, "Run: mean C-index")
    assert at.session_state["cohort_source"] == "demo"
    load = [b for b in at.button if b.key == "load_model"]
    if load:  # not loaded yet in this process: Home offers it (pages that predict load it anyway)
        load[0].click().run()
        _ok(at)
    runtime = next(t.value for t in at.table if "scan backend" in t.value.index)["value"]
    assert "on cpu" in runtime["scan backend"] or "on cuda" in runtime["scan backend"]
    assert runtime["device"].startswith(("cpu", "cuda"))


def test_home_lists_every_problem_between_cohort_and_model(app, genomics_only):
    """The default (pathology + genomics) model against a genomics-only cohort: Home says why, before any page fails."""
    at = _ok(app(cohort_source=genomics_only[0]).run())
    card = next(t.value for t in at.table if "fits this cohort" in t.value.index)["value"]
    assert card["fits this cohort"].startswith("no: 1 problem")
    assert any("patch features" in w.value and "memamba extract" in w.value for w in at.warning)
    assert not at.success  # no "Ready." when the model cannot score this cohort


def test_home_bad_input_keeps_app_working(app, tmp_path):
    at = _ok(app().run())
    at.radio(key="_w_cohort_kind").set_value("My cohort").run()
    at.text_input(key="_w_cohort_path").input(str(tmp_path / "does_not_exist")).run()
    at.button(key="use_cohort").click().run()
    _ok(at)
    assert at.error and "does_not_exist" in at.error[0].value
    assert at.session_state["cohort_source"] == "demo"  # previous choice kept
    assert _metric(at, "Patients")  # summary still shown

    (tmp_path / "empty").mkdir()
    at.text_input(key="_w_cohort_path").input(str(tmp_path / "empty")).run()
    at.button(key="use_cohort").click().run()
    _ok(at)
    assert at.error and at.session_state["cohort_source"] == "demo"

    bad = RunPaths(tmp_path / "bad_run").fold(0)
    bad.dir.mkdir(parents=True)
    bad.weights.write_bytes(b"not a checkpoint")
    bad.meta.write_text("{}")
    at.radio(key="_w_model_kind").set_value("My run / checkpoint").run()
    at.text_input(key="_w_model_path").input(str(bad.dir)).run()
    at.button(key="use_model").click().run()
    _ok(at)
    assert any("bad_run" in e.value for e in at.error)
    assert at.session_state["model_source"] == "demo"


def test_cohort_survival_groups_filters_downloads(app):
    at = _ok(app("1_Cohort_survival.py").run())
    assert at.radio(key="km_source").value.startswith("Cross-validated")
    fig = _figure(at, "km_plot")
    curves = [t["name"] for t in fig["data"] if t.get("name", "").startswith(("Low risk (", "High risk ("))]
    assert len(curves) == 2 and "log-rank" in fig["layout"]["title"]["text"]
    assert any(t.get("mode") == "text" for t in fig["data"])  # number-at-risk rows
    c = float(_metric(at, "C-index"))
    assert 0 <= c <= 1 and "–" in _metric(at, "95 % CI")
    assert len(at.get("download_button")) == 2

    at.selectbox(key="km_scheme").set_value("quartiles").run()
    _ok(at)
    names = [t["name"] for t in _figure(at, "km_plot")["data"] if t.get("mode") == "lines" and "(n=" in t.get("name", "")]
    assert len(names) == 4 and names[0].startswith("Q1")

    at.selectbox(key="km_scheme").set_value("cutoff").run()
    lo = at.slider(key="km_cutoff")
    lo.set_value(lo.min).run()  # everyone at or above the cut-off: one group, log-rank n/a
    _ok(at)
    assert _metric(at, "Log-rank") == "p = n/a"

    at.selectbox(key="km_scheme").set_value("median").run()
    n_all = at.caption[0].value
    at.radio(key="km_sex").set_value("female").run()
    _ok(at)
    assert at.caption[0].value != n_all or at.warning
    at.radio(key="km_sex").set_value("all").run()
    at.radio(key="km_source").set_value("Loaded fold model").run()
    _ok(at)
    assert "Loaded fold model" in at.caption[0].value


def test_patient_page_heatmap_gallery_report(app):
    at = _ok(app("2_Patient.py").run())
    ids = at.selectbox(key="_w_case_id").options
    assert _metric(at, "Percentile").endswith("th")  # the calibrated part: tests/test_dashboard_clinical.py
    heat = _figure(at, "heatmap")
    assert heat["data"][0]["type"] == "image" and _arr(heat["data"][1]["customdata"]).size > 0
    gallery = at.get("image")
    assert len(gallery) == min(8, _arr(heat["data"][1]["customdata"]).size)  # default top-k 8
    assert gallery[0].proto.imgs[0].caption.startswith("#1")
    assert at.get("download_button")
    at.slider(key="att_topk").set_value(3).run()
    assert len(at.get("image")) == 3
    at.selectbox(key="att_cmap").set_value("viridis").run()
    assert _figure(at, "heatmap")["data"][1]["marker"]["colorscale"] != heat["data"][1]["marker"]["colorscale"]
    at.radio(key="att_scaling").set_value("raw").run()
    _ok(at)
    at.selectbox(key="_w_case_id").set_value(ids[-1]).run()
    _ok(at)
    assert at.session_state["case_id"] == ids[-1]
    assert _metric(at, "Risk group") in ("low", "intermediate", "high")


def test_transport_page_highlight(app):
    at = _ok(app("3_Transport_map.py").run())
    mass = _figure(at, "tm_mass")
    assert abs(_arr(mass["data"][0]["y"]).sum() - 1) < 1e-6
    groups = at.selectbox(key="tm_group").options[1:]
    at.selectbox(key="tm_group").set_value(groups[0]).run()
    _ok(at)
    assert _arr(_figure(at, "tm_mass")["data"][0]["marker"]["line"]["width"])[0] == 3
    assert "highlighted" in _figure(at, "tm_slide_map")["layout"]["title"]["text"]


def test_ablation_table_of_the_run_is_shown(app, demo_root, tmp_path):
    """A run that is one variant of `memamba ablate --out OUT` (OUT/<variant>/): the page shows OUT's ablation table."""
    import shutil

    run = tmp_path / "abl" / "full"
    shutil.copytree(tiny_demo(demo_root)[1], run)
    table_file = RunPaths(run.parent).ablations
    table_file.write_text("variant,changes,c_index_mean\nfull,,0.700\nno_scan_ranked,scan_ranked=False,0.650\n")
    at = _ok(app("4_Ablations.py", model_source=str(run)).run())
    (table,) = [d.value for d in at.dataframe]  # the page's only dataframe
    assert table["variant"].tolist() == ["full", "no_scan_ranked"]
    table_file.write_text("variant\n\"unclosed\n")
    at = _ok(app("4_Ablations.py", model_source=str(run)).run())
    assert at.error and table_file.name in at.error[0].value  # a damaged table: a message naming it, not a traceback


def test_ablation_toggle_updates_c_index_and_km(app):
    at = _ok(app("4_Ablations.py").run())
    assert "nothing (full model)" in at.caption[-1].value or any("nothing" in c.value for c in at.caption)
    before = _figure(at, "ab_km")
    at.radio(key="ab_mod").set_value("genomics").run()
    _ok(at)
    assert any("modalities → genomics" in c.value for c in at.caption)
    after = _figure(at, "ab_km")
    assert before["data"] != after["data"] or _metric(at, "C-index (switched)") != _metric(at, "C-index (full model)")
    at.toggle(key="ab_rev").set_value(False).run()
    _ok(at)
    assert any("scan_reverse → False" in c.value for c in at.caption)


def test_train_page_start_and_stop(app, tmp_path):
    at = _ok(app("5_Train_evaluate.py").run())
    at.text_input(key="tr_root").input(str(tmp_path / "runs")).run()
    at.text_input(key="tr_name").input("r1")
    at.number_input(key="tr_epochs").set_value(1)
    next(b for b in at.button if b.label == "Start training").click().run()
    _ok(at)
    assert (tmp_path / "runs" / "r1" / ".dashboard_job.json").is_file()
    assert at.selectbox(key="tr_sel").value.endswith("r1")
    at.button(key="tr_stop").click().run()
    _ok(at)
    from memamba_core.app import jobs

    assert jobs.state(jobs.load(tmp_path / "runs" / "r1")) == "stopped"


@pytest.fixture(scope="session")
def genomics_only(demo_root):
    """The tiny demo without patch features or slides (a genomics-only cohort, like TCGA-BLCA here),
    and a genomics-only SNN cross-validated on it with this project's trainer: (cohort, run)."""
    from memamba_core.data import load_cohort
    from memamba_core.models import ModelConfig
    from memamba_core.train import TrainConfig, train_cv

    src = Path(tiny_demo(demo_root)[0])
    dst, run = demo_root / "genomics-only", demo_root / "genomics-only-snn"
    if not dst.exists():
        dst.mkdir()
        for name in ("cohort.toml", "labels.csv", "signatures.csv", "pathways.csv"):
            if (src / name).is_file():
                (dst / name).write_bytes((src / name).read_bytes())
    if not RunPaths(run).summary.is_file():
        threads = torch.get_num_threads()
        cfg = TrainConfig(model=ModelConfig(model="snn", modalities="genomics", omic_sizes=(1,), d_model=32),
                          epochs=1, grad_accum=4, folds="generated", n_folds=3, num_threads=1)
        try:
            train_cv(load_cohort(dst), cfg, run, progress=False)
        finally:
            torch.set_num_threads(threads)
    return str(dst), str(run)


@pytest.mark.parametrize("page,expect", [
    ("2_Patient.py", "No heatmap"), ("3_Transport_map.py", "No transport plan"), ("1_Cohort_survival.py", None)])
def test_genomics_only_cohort_is_explained(app, genomics_only, page, expect):
    cohort, run = genomics_only
    at = _ok(app(page, cohort_source=cohort, model_source=run).run())
    assert not at.error, [e.value for e in at.error]
    if expect:
        assert any(expect in i.value for i in at.info), [i.value for i in at.info]
    else:
        assert _figure(at, "km_plot")


def test_model_that_does_not_fit_the_cohort_gives_a_message(app, genomics_only):
    at = _ok(app("2_Patient.py", cohort_source=genomics_only[0]).run())  # default model needs patch features
    assert at.error and "patch features" in at.error[0].value
    assert any("Home page" in i.value for i in at.info)
