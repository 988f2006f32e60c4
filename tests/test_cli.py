"""The `memamba` command: help texts, train → evaluate → predict → ablate, and errors as exit 2 without a traceback."""

import json
import shutil
import subprocess

import pandas as pd
import pytest

from memamba_core.cli import main
from memamba_core.runs import RunPaths, ablation_table, read_summary
from tests._train_cohort import make_cohort, one_thread  # one_thread: autouse fixture

TINY = ["--epochs", "1", "--d-model", "16", "--set", "d_state=4", "--set", "n_layers=1", "--grad-accum", "4",
        "--folds", "generated", "--n-folds", "3", "--num-threads", "1", "--no-progress", "--max-train-patches", "16"]


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory):
    return make_cohort(tmp_path_factory.mktemp("cli") / "tiny", n=15)


@pytest.mark.parametrize("cmd", ["demo", "extract", "train", "evaluate", "predict", "ablate", "bench"])
def test_every_subcommand_has_useful_help(cmd, capsys):
    with pytest.raises(SystemExit) as ex:
        main([cmd, "--help"])
    assert ex.value.code == 0
    text = capsys.readouterr().out
    assert "example" in text and len(text) > 400


def test_train_evaluate_predict(cohort_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(cohort_dir), "--out", str(run), *TINY]) == 0
    out = capsys.readouterr().out
    assert "mean C-index" in out and "fold 2:" in out
    assert json.loads((run / "config.json").read_text())["train"]["model"]["d_model"] == 16

    assert main(["evaluate", str(run), "--n-boot", "50", "--json", str(tmp_path / "eval.json")]) == 0
    out = capsys.readouterr().out
    assert "pooled out-of-fold C-index" in out
    res = json.loads((tmp_path / "eval.json").read_text())
    assert len(res["folds"]) == 3 and res["pooled_c_index"]["n_boot"] <= 50

    preds = tmp_path / "preds.csv"
    assert main(["predict", str(run), str(cohort_dir), "--fold", "1", "--out", str(preds)]) == 0
    df = pd.read_csv(preds)
    assert len(df) == 15 and {"risk", "S_1", "S_4", "in_training"} <= set(df.columns)
    preds1 = tmp_path / "preds_1thread.csv"  # the thread count changes the speed, not the predictions
    assert main(["predict", str(run), str(cohort_dir), "--fold", "1", "--out", str(preds1), "--num-threads", "1"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(preds1), df, rtol=1e-5)

    # rerunning the same command resumes: nothing retrained
    weights = RunPaths(run).fold(0).weights
    before = weights.stat().st_mtime_ns
    assert main(["train", str(cohort_dir), "--out", str(run), *TINY]) == 0
    assert weights.stat().st_mtime_ns == before


def test_errors_exit_2_with_the_message(cohort_dir, tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "memamba train: error:" in err and "no such cohort folder" in err and "Traceback" not in err
    assert main(["train", str(cohort_dir), "--out", str(tmp_path / "r"), "--set", "nope=1"]) == 2
    assert "--set nope=1" in capsys.readouterr().err
    assert main(["train", str(cohort_dir), "--out", str(tmp_path / "r"), "--lr", "-1"]) == 2
    assert "lr must be > 0" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert f"{RunPaths(tmp_path).oof}: missing" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), str(cohort_dir), "--out", str(tmp_path / "p.csv")]) == 2
    assert "holds no finished fold" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()
    (tmp_path / "empty").mkdir()
    assert main(["extract", str(tmp_path / "empty"), "--out", str(tmp_path / "feats"), "--no-progress"]) == 2
    assert "holds no slide files" in capsys.readouterr().err
    assert main(["extract", str(tmp_path / "empty"), "--out", str(tmp_path / "feats"), "--encoder", "resnet50_trunc"]) == 2
    assert "needs a local weights file" in capsys.readouterr().err


def test_fusion_flags_reach_the_train_config(tmp_path, capsys):
    from memamba_core.cli import build_parser
    from memamba_core.cli.commands import _train_config

    args = build_parser().parse_args(["train", "c", "--out", "r", "--epochs", "20", "--modality-dropout", "0.2",
                                      "--expert-aux-weight", "0.5", "--expert-warmup-epochs", "10"])
    cfg = _train_config(args)
    assert (cfg.modality_dropout, cfg.expert_aux_weight, cfg.expert_warmup_epochs) == (0.2, 0.5, 10)
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "r"), "--expert-warmup-epochs", "5", *TINY]) == 2
    assert "expert_warmup_epochs must be in [0, epochs = 1]" in capsys.readouterr().err


@pytest.mark.slow
def test_ablate_writes_one_table(cohort_dir, tmp_path):
    out = tmp_path / "ab"
    assert main(["ablate", str(cohort_dir), "--out", str(out), "--variants", "full", "genomics_only", *TINY]) == 0
    table = ablation_table(out)
    assert list(table.variant) == ["full", "genomics_only"]
    assert {"c_index_mean", "c_index_std", "c_index_fold_0", "changes"} <= set(table.columns)
    summary = read_summary(out / "genomics_only")
    assert table.set_index("variant").loc["genomics_only", "c_index_mean"] == pytest.approx(summary["mean"]["c_index"], abs=1e-4)
    pd.testing.assert_frame_equal(ablation_table(out / "full" / "fold_0"), table)  # found from a variant's fold too
    assert main(["ablate", str(cohort_dir), "--out", str(out), "--variants", "bogus", *TINY]) == 2


@pytest.mark.slow
def test_console_script_is_installed_and_reports_errors(tmp_path):
    exe = shutil.which("memamba")
    assert exe is not None, "pip install -e . installs the memamba console script"
    bad = subprocess.run([exe, "predict", str(tmp_path / "none"), str(tmp_path), "--out", str(tmp_path / "x.csv")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such checkpoint" in bad.stderr and "Traceback" not in bad.stderr
