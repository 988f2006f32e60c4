"""``memamba benchmark`` (memamba_core.train.leaderboard): cells, protocol card, resume, the table, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memamba_core.cli import main as cli_main
from memamba_core.errors import InputError
from memamba_core.models.coxnet import ElasticNetCox
from memamba_core.runs import read_selection, read_summary, RunPaths
from memamba_core.train.leaderboard import (CohortSpec, Protocol, cell_dir, parse_cohort_arg, plan_cells, run_benchmark)
from memamba_core.train.leaderboard_table import TABLE_FILES, paired_gaps
from tests._cohort_fixtures import make_clam_cohort, make_survpath_cohort

FAST = Protocol(epochs=3, ensemble=1, n_boot=50, n_alphas=5, d_model=8)


@pytest.fixture
def stad_like(tmp_path):
    """A SurvPath-layout cohort (OS, DSS, PFI; clinical table; 5 split files) through a cohort file."""
    root = make_survpath_cohort(tmp_path, n_patients=30, n_genes=12)
    toml = tmp_path / "cohort.toml"
    toml.write_text(f'name = "tiny STAD"\nroot = "{root}"\n')
    return toml


def _selections(out: Path, key: str) -> dict[int, float]:
    run = RunPaths(cell_dir(out, key))
    return {f.fold: f.selection.stat().st_mtime_ns for f in run.fold_dirs()}


def test_leaderboard_end_to_end_and_resume(stad_like, tmp_path):
    out = tmp_path / "lb"
    models = ["memamba_genomics", "coxnet", "clinical_cox"]
    rec = run_benchmark([CohortSpec(stad_like, ("os", "dss"))], models, out, FAST)
    for name in TABLE_FILES.values():
        assert (out / name).is_file(), name
    rows = pd.read_csv(out / TABLE_FILES["csv"])
    assert len(rows) == 6 and set(rows["endpoint"]) == {"os", "dss"} and rows["complete"].all()
    assert (rows["n_folds"] == 5).all() and rows["mean_c_index"].between(0, 1).all()
    assert (rows["ci_low"] <= rows["mean_c_index"]).all() and (rows["mean_c_index"] <= rows["ci_high"]).all()
    # every model of a cohort × endpoint saw the same validation patients in each fold
    for ep in ("os", "dss"):
        vals = [read_selection(RunPaths(cell_dir(out, f"tcga_test/{ep}/{m}")).fold(2)).val_case_ids for m in models]
        assert vals[0] == vals[1] == vals[2] and len(vals[0]) > 0
    card = json.loads((out / "protocol.json").read_text())
    c = card["cohorts"]["tcga_test/os"]
    assert c["fold_source"].startswith("5 split files") and len(c["split_hash"]) == 16 and c["endpoint"] == "os"
    assert c["clinical_variables"] == ["age", "is_female", "stage", "grade"] and card["protocol"]["ensemble"] == 1
    assert card["cohorts"]["tcga_test/os"]["split_hash"] == card["cohorts"]["tcga_test/dss"]["split_hash"]
    assert {(g["model"], g["versus"]) for g in rec["gaps"]} == {("memamba_genomics", "coxnet"), ("clinical_cox", "coxnet")}
    # the fixture's survival follows age exactly (time 5 + 7 i, age 40 + i): the clinical Cox model orders OS perfectly
    cox = rows.set_index(["endpoint", "model"]).loc[("os", "clinical_cox")]
    assert cox["mean_c_index"] == pytest.approx(1.0)
    # every cell calibrated the same way, or says why not; a perfect ranking calibrated beats the KM null beyond noise
    assert (rows["ibs_calibrated"].notna() | rows["calibration_error"].notna()).all()
    assert cox["ibs_calibrated"] < cox["ibs_km"] and cox["ibs_gain_low"] > 0 and cox["vs_km"] == "better"
    assert cox["ibs_calibrated"] < cox["integrated_brier"]  # its own Breslow curves, fitted in-sample, are worse
    md = (out / TABLE_FILES["md"]).read_text()
    assert "IBS, calibrated" in md and "IBS, KM null" in md
    summary = read_summary(cell_dir(out, "tcga_test/os/clinical_cox"))
    assert summary["calibrated"]["mean"]["ibs_model"] == pytest.approx(cox["ibs_calibrated"])
    # a rerun trains nothing: every fold's marker stays as written
    before = {m: _selections(out, f"tcga_test/os/{m}") for m in models}
    run_benchmark([CohortSpec(stad_like, ("os", "dss"))], models, out, FAST)
    assert {m: _selections(out, f"tcga_test/os/{m}") for m in models} == before
    # another protocol in the same folder is refused, nothing changed
    with pytest.raises(InputError, match=r"made with another protocol, cohorts or models; use a new --out folder"):
        run_benchmark([CohortSpec(stad_like, ("os", "dss"))], models, out, Protocol(epochs=4, ensemble=1, n_boot=50))


@pytest.mark.slow
def test_clinical_tokens_carry_the_clinical_signal(stad_like, tmp_path):
    out = tmp_path / "lb"
    p = Protocol(epochs=30, ensemble=1, n_boot=50, d_model=8, l1_genomic=0.0, lr=5e-3)
    run_benchmark([CohortSpec(stad_like, ("os",))], ["memamba_genomics", "memamba_clinical"], out, p)
    rows = pd.read_csv(out / TABLE_FILES["csv"]).set_index("model")
    # genes are noise in the fixture, age orders survival: the tokens must let the model see it
    assert rows.loc["memamba_clinical", "mean_c_index"] > rows.loc["memamba_genomics", "mean_c_index"] + 0.1
    gaps = pd.read_csv(out / TABLE_FILES["gaps"])
    assert list(gaps["versus"]) == ["memamba_genomics"]


def test_cox_penalty_is_chosen_on_the_training_fold_only(stad_like, tmp_path):
    out = tmp_path / "lb"
    run_benchmark([CohortSpec(stad_like, ("os",))], ["coxnet"], out, FAST)
    cells, _ = plan_cells([CohortSpec(stad_like, ("os",))], ["coxnet"], FAST)
    cohort, split = cells[0].cohort, cells[0].folds[1]
    tr = list(split.train)
    t = np.array([cohort.patient(c).survival_months for c in tr])
    e = np.array([cohort.patient(c).event for c in tr])
    alone = ElasticNetCox(l1_ratios=FAST.l1_ratios, n_alphas=FAST.n_alphas, n_inner=FAST.n_inner).fit(cohort.genomic_matrix(tr), t, e)
    sel = read_selection(RunPaths(cell_dir(out, "tcga_test/os/coxnet")).fold(1))
    assert sel.chosen == alone.chosen_ and sel.inner_scores == json.loads(json.dumps(alone.inner_scores_))
    assert not set(sel.val_case_ids) & set(tr)


def test_elastic_net_cox_finds_a_linear_signal():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 30))
    t = np.exp(-X[:, 0] + 0.1 * rng.normal(size=160)) * 10
    e = rng.random(160) < 0.7
    m = ElasticNetCox(n_alphas=8).fit(X[:120], t[:120], e[:120])
    from memamba_core.survival.metrics import concordance

    assert m.chosen_ in m.inner_scores_ and m.n_nonzero_ >= 1
    assert concordance(t[120:], e[120:], m.predict_risk(X[120:])) > 0.8
    s = m.predict_survival(X[120:], [1.0, 5.0, 50.0])
    assert s.shape == (40, 3) and (np.diff(s, axis=1) <= 1e-12).all()
    with pytest.raises(InputError, match="all training patients are censored"):
        ElasticNetCox().fit(X, t, np.zeros(160, bool))
    X[3, 2] = np.inf
    with pytest.raises(InputError, match="infinite values"):
        ElasticNetCox().fit(X, t, e)


def test_identical_cells_have_no_gap_and_different_patients_are_refused(stad_like, tmp_path):
    cells, _ = plan_cells([CohortSpec(stad_like, ("os",))], ["memamba_genomics", "coxnet"], FAST)
    rng = np.random.default_rng(1)
    fold = {k: (np.array([f"P{i}" for i in range(20)]), rng.random(20) * 50, rng.random(20) < 0.6, rng.normal(size=20))
            for k in range(3)}
    gaps = paired_gaps(cells, {cells[0].key: fold, cells[1].key: fold}, n_boot=50)
    assert gaps[0]["gap"] == 0 and gaps[0]["ci_low"] == 0 and gaps[0]["ci_high"] == 0
    other = {k: (np.array([f"Q{i}" for i in range(20)]), *v[1:]) for k, v in fold.items()}
    with pytest.raises(InputError, match="scored on different patients"):
        paired_gaps(cells, {cells[0].key: fold, cells[1].key: other}, n_boot=50)


def test_parse_cohort_argument():
    assert parse_cohort_arg("a/stad.toml@os,DSS") == CohortSpec(Path("a/stad.toml"), ("os", "dss"))
    assert parse_cohort_arg("a/blca", ("pfi",)) == CohortSpec(Path("a/blca"), ("pfi",))
    with pytest.raises(InputError, match="write PATH or PATH@ENDPOINT"):
        parse_cohort_arg("@os")
    assert parse_cohort_arg("b@os,os,dss").endpoints == ("os", "dss")


# ---- bad input: every problem before anything is trained or written ---------------------------------------------
def test_an_endpoint_the_cohort_lacks(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=10, with_pt=False, n_splits=0)  # MCAT layout: OS only
    with pytest.raises(InputError, match=r"benchmark: .*@dss: .*no 'dss' endpoint .*it has \"os\""):
        run_benchmark([CohortSpec(root, ("os", "dss"))], ["coxnet"], tmp_path / "lb", FAST)
    with pytest.raises(InputError, match=r"unknown survival endpoint 'overall'"):
        run_benchmark([CohortSpec(root, ("overall",))], ["coxnet"], tmp_path / "lb", FAST)
    assert not (tmp_path / "lb").exists()


def test_pathways_that_do_not_match_the_rna_report_the_overlap(stad_like, tmp_path):
    comps = next((stad_like.parent / "survpath" / "datasets_csv" / "pathway_compositions").glob("xena_comps.csv"))
    pd.DataFrame({"P1": [1, 0], "P2": [1, 1]}, index=["TP53", "KRAS"]).to_csv(comps)
    with pytest.raises(InputError, match=r"benchmark: .*xena_comps\.csv: none of its 2 genes.*0 of 2 overlap"):
        run_benchmark([CohortSpec(stad_like, ("os",))], ["coxnet"], tmp_path / "lb", FAST)
    assert not (tmp_path / "lb").exists()


def test_a_clinical_table_keyed_differently(stad_like, tmp_path):
    path = stad_like.parent / "survpath" / "datasets_csv" / "clinical_data" / "tcga_test_clinical.csv"
    df = pd.read_csv(path, index_col=0)
    df["case_id"] = df["case_id"] + "-01A"
    df.to_csv(path)
    with pytest.raises(InputError, match=r"benchmark: .*0 of its \d+ case id\(s\) match a patient.*key the clinical table by the same case_id"):
        run_benchmark([CohortSpec(stad_like, ("os",))], ["clinical_cox"], tmp_path / "lb", FAST)


def test_clinical_models_on_a_cohort_without_the_variables(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=10, with_pt=False, n_splits=0)
    with pytest.raises(InputError, match=r"no clinical variable 'stage'.*its clinical columns are"):
        run_benchmark([CohortSpec(root, ("os",))], ["clinical_cox"], tmp_path / "lb", Protocol(clinical_variables=("stage",)))


def test_unknown_model_output_inside_the_cohort_and_bad_protocol(stad_like, tmp_path):
    with pytest.raises(InputError, match=r"benchmark_model='mcat' is not one of memamba_genomics, memamba_clinical"):
        run_benchmark([CohortSpec(stad_like, ("os",))], ["mcat"], tmp_path / "lb", FAST)
    with pytest.raises(InputError, match=r"inside the cohort folder"):
        run_benchmark([CohortSpec(stad_like, ("os",))], ["coxnet"], stad_like.parent / "survpath" / "lb", FAST)
    assert not (stad_like.parent / "survpath" / "lb").exists()
    with pytest.raises(InputError, match=r"exists and is not a folder"):
        run_benchmark([CohortSpec(stad_like, ("os",))], ["coxnet"], stad_like, FAST)
    with pytest.raises(InputError, match=r"ensemble must be an integer ≥ 1"):
        Protocol(ensemble=0)
    with pytest.raises(InputError, match=r"lr must be a finite number > 0"):
        Protocol(lr=float("nan"))


def test_cli_benchmark(stad_like, tmp_path, capsys):
    out = tmp_path / "lb"
    rc = cli_main(["benchmark", f"{stad_like}@os", "--models", "coxnet", "clinical_cox", "--out", str(out), "--n-boot", "20",
                   "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "tiny STAD OS   coxnet" in text and "clinical_cox − coxnet" in text and "leaderboard in" in text
    card = json.loads((out / "protocol.json").read_text())
    assert card["command"].startswith("memamba benchmark ") and card["models"] == ["coxnet", "clinical_cox"]
    assert cli_main(["benchmark", f"{stad_like}@dss", "--models", "coxnet", "--out", str(out), "--no-progress"]) == 2
    assert "another protocol" in capsys.readouterr().err
