"""Issue 14: outputs never land in or over inputs (memamba_core.outputs); a refused command leaves nothing behind.

Every case runs the real command (``memamba_core.cli.main``) and checks the exit status 2, the message and
that the inputs are byte-identical afterwards (``folder_digest``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memamba_core.cli import main
from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.outputs import check_output_file, check_output_folder
from memamba_core.runs import RunPaths, file_names
from memamba_core.train import train_cv
from tests._hypothesis import folder_digest
from tests._train_cohort import one_thread, tiny_train, trained_run  # one_thread: autouse fixture

NAMES = file_names()
TRAIN_FLAGS = ["--epochs", "1", "--n-folds", "3", "--d-model", "16", "--set", "n_layers=1", "--set", "d_state=4",
               "--num-threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(cohort folder, run folder) of the session's tiny finished 3-fold run (never modified here)."""
    cohort, run = trained_run(tmp_path_factory)
    return Path(cohort.root), run


def _refused(argv, capsys, *needles) -> str:
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err
    return err


# ---- predict ------------------------------------------------------------------------------------
def test_predict_over_the_cohort_label_table(trained, capsys):
    root, run = trained
    before = folder_digest(root)
    _refused(["predict", run, root, "--out", root / "labels.csv"], capsys, "labels.csv", "inputs are never overwritten")
    assert folder_digest(root) == before


def test_predict_into_the_cohort_folder(trained, capsys):
    root, run = trained
    before = folder_digest(root)
    _refused(["predict", run, root, "--out", root / "pt_files" / "preds.csv"], capsys, "a folder this command reads")
    assert folder_digest(root) == before


def test_predict_over_the_run_summary(trained, capsys):
    root, run = trained
    before = folder_digest(run)
    paths = RunPaths(run)
    _refused(["predict", paths.fold(0).dir, root, "--out", paths.summary], capsys, "a folder this command reads")
    _refused(["predict", paths.fold(1).weights, root, "--out", paths.fold(1).meta], capsys)
    assert folder_digest(run) == before


def test_predict_through_a_symlink_into_the_cohort(trained, capsys, tmp_path):
    root, run = trained
    before = folder_digest(root)
    (tmp_path / "link.csv").symlink_to(root / "labels.csv")
    _refused(["predict", run, root, "--out", tmp_path / "link.csv"], capsys, "labels.csv")
    assert folder_digest(root) == before


def test_predict_out_is_a_folder(trained, capsys, tmp_path):
    root, run = trained
    _refused(["predict", run, root, "--out", tmp_path], capsys, "is a folder; give a file path", "predictions.csv")
    assert list(tmp_path.iterdir()) == []


def test_predict_to_a_fresh_file_still_works(trained, capsys, tmp_path):
    root, run = trained
    before = folder_digest(root), folder_digest(run)
    assert main(["predict", str(run), str(root), "--out", str(tmp_path / "p.csv")]) == 0
    assert (tmp_path / "p.csv").read_text().startswith("case_id,")
    assert (folder_digest(root), folder_digest(run)) == before


# ---- evaluate -----------------------------------------------------------------------------------
def test_evaluate_json_over_the_run_config(trained, capsys):
    root, run = trained
    before = folder_digest(run)
    _refused(["evaluate", run, "--n-boot", "10", "--json", RunPaths(run).config], capsys, "--json", "inputs are never")
    _refused(["evaluate", run, "--n-boot", "10", "--json", run / "eval.json"], capsys, "a folder this command reads")
    assert folder_digest(run) == before


def test_evaluate_json_is_a_folder(trained, capsys, tmp_path):
    _, run = trained
    _refused(["evaluate", run, "--n-boot", "10", "--json", tmp_path], capsys, "is a folder; give a file path")
    assert main(["evaluate", str(run), "--n-boot", "10", "--json", str(tmp_path / "e.json")]) == 0
    assert "folds" in json.loads((tmp_path / "e.json").read_text())


# ---- train / ablate -----------------------------------------------------------------------------
def test_train_into_its_own_cohort_even_forced(trained, capsys):
    root, _ = trained
    before = folder_digest(root)
    _refused(["train", root, "--out", root, "--force", *TRAIN_FLAGS], capsys, "is an input this command reads")
    _refused(["train", root, "--out", root / "runs" / "x", *TRAIN_FLAGS], capsys, "lies inside")
    assert folder_digest(root) == before  # no config.json, no .lock, no runs/


def test_train_into_a_folder_holding_the_cohort(trained, capsys):
    root, _ = trained
    parent = root.parent
    names = sorted(p.name for p in parent.iterdir())
    _refused(["train", root, "--out", parent, "--force", *TRAIN_FLAGS], capsys, "holds", "an input of this command")
    assert sorted(p.name for p in parent.iterdir()) == names


def test_force_into_a_foreign_folder(trained, capsys, tmp_path):
    root, _ = trained
    user = tmp_path / "mine"
    (user / "fold_0").mkdir(parents=True)
    (user / NAMES["summary"]).write_text('{"my": "results"}')
    (user / "fold_0" / NAMES["weights"]).write_bytes(b"my own weights")
    before = folder_digest(user)
    _refused(["train", root, "--out", user, "--force", *TRAIN_FLAGS], capsys, "not a run folder of ours",
             "not even --force")
    assert folder_digest(user) == before  # nothing moved aside, no .lock left


def test_a_refused_train_leaves_no_lock_or_folder(trained, tmp_path):
    root, run = trained
    cohort = load_cohort(root)
    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    (other / "x.txt").write_text("x")
    with pytest.raises(InputError, match="nothing was written"):
        train_cv(cohort, tiny_train(epochs=1), other, progress=False)
    assert sorted(p.name for p in other.iterdir()) == ["sub", "x.txt"]
    # a different config on a run of ours: refused, the run and its lock file as they were
    before = folder_digest(run)
    with pytest.raises(InputError, match="different configuration"):
        train_cv(cohort, tiny_train(epochs=1, lr=5e-3), run, progress=False)
    assert folder_digest(run) == before


def test_ablate_into_a_foreign_folder(trained, capsys, tmp_path):
    root, _ = trained
    user = tmp_path / "mine"
    user.mkdir()
    (user / NAMES["ablations"]).write_text("my,table\n")
    (user / "thesis.docx").write_bytes(b"words")
    before = folder_digest(user)
    _refused(["ablate", root, "--out", user, "--force", "--variants", "full", *TRAIN_FLAGS], capsys,
             "thesis.docx", "not an ablation folder of ours")
    _refused(["ablate", root, "--out", root / "ab", "--variants", "full", *TRAIN_FLAGS], capsys, "lies inside")
    assert folder_digest(user) == before and not (root / "ab").exists()


def test_ablation_folder_entries_of_ours(tmp_path):
    ab = RunPaths(tmp_path)
    (tmp_path / ".lock").write_text("")
    (tmp_path / "full").mkdir()  # a variant folder started but not yet configured
    (tmp_path / "full" / ".lock").write_text("")
    assert ab.foreign_ablation_entries() == []
    (tmp_path / "no_ot").mkdir()
    (tmp_path / "no_ot" / "notes.txt").write_text("")
    assert ab.foreign_ablation_entries() == ["no_ot"]


# ---- extract ------------------------------------------------------------------------------------
def test_extract_into_the_slides_folder(capsys, tmp_path):
    slides = tmp_path / "slides"
    slides.mkdir()
    (slides / "a.svs").write_bytes(b"not really a slide")
    before = folder_digest(slides)
    _refused(["extract", slides, "--out", slides, "--no-progress"], capsys, "is an input this command reads")
    _refused(["extract", slides, "--out", slides / "feats", "--no-progress"], capsys, "lies inside")
    assert folder_digest(slides) == before


def test_extract_may_write_beside_the_slides(tmp_path):
    slides = tmp_path / "cohort" / "slides"
    slides.mkdir(parents=True)
    (slides / "a.svs").write_bytes(b"x")
    assert check_output_folder(tmp_path / "cohort", reads=[slides], may_contain_inputs=True) == (tmp_path / "cohort").resolve()
    with pytest.raises(InputError, match="holds"):
        check_output_folder(tmp_path / "cohort", reads=[slides])


# ---- the guard itself ---------------------------------------------------------------------------
def test_guard_on_odd_paths(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(InputError, match="exists and is a file"):
        check_output_folder(f)
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_output_file(f / "out.csv")
    hard = tmp_path / "hard.csv"
    hard.hardlink_to(f)
    with pytest.raises(InputError, match="is an input"):
        check_output_file(hard, reads=[f])
    assert check_output_file(tmp_path / "new.csv", reads=[f]) == (tmp_path / "new.csv").resolve()
    assert f.read_text() == "x"


# ---- property: whatever path a user types, the guard refuses it or it lies outside every input -----------
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests._hypothesis import budget  # noqa: E402

_SEGMENTS = ["cohort", "..", ".", "sub", "labels.csv", "into_cohort", "to_labels", "out", "x.csv", "", "~", "a" * 300]


@pytest.fixture(scope="module")
def maze(tmp_path_factory):
    """A cohort folder (a file, a subfolder) and, beside it, symlinks pointing into it."""
    base = tmp_path_factory.mktemp("maze")
    cohort = base / "cohort"
    (cohort / "sub").mkdir(parents=True)
    (cohort / "labels.csv").write_text("case_id\nA\n")
    (base / "into_cohort").symlink_to(cohort)
    (base / "to_labels").symlink_to(cohort / "labels.csv")
    (base / "out").mkdir()
    return base, cohort


@budget(80)
@given(st.lists(st.sampled_from(_SEGMENTS), min_size=0, max_size=6), st.booleans(), st.booleans())
def test_any_output_path_is_refused_or_outside_the_inputs(maze, parts, absolute, as_folder):
    base, cohort = maze
    before = folder_digest(base)
    raw = "/".join(parts)
    path = str(base / ("." if absolute else "out")) + "/" + raw  # absolute: never relative to the checkout
    try:
        out = (check_output_folder if as_folder else check_output_file)(path, reads=[cohort, cohort / "labels.csv"])
    except InputError as err:
        assert str(err) and "nothing was written" in str(err)
    else:
        root = cohort.resolve()
        assert out != root and root not in out.parents  # never in or over the cohort
        if as_folder:
            assert out not in root.parents  # a folder output never holds the cohort
        else:
            assert not out.is_dir()
    assert folder_digest(base) == before  # the guard itself writes nothing


def test_a_start_refused_after_creating_folders_removes_them(tmp_path, monkeypatch):
    """Whatever refuses a start once the folder exists, the lock and every folder it made are gone."""
    from memamba_core.runs import RunFolder
    from memamba_core.runs import folder as folder_mod

    def refuse(path):
        raise InputError(f"{path}: refused for the test")

    monkeypatch.setattr(folder_mod, "read_run_record", refuse)
    with pytest.raises(InputError, match="refused for the test"):
        RunFolder(tmp_path / "a" / "b" / "run").start({"cohort": {}, "folds": []})
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    with pytest.raises(InputError):
        RunFolder(tmp_path / "kept").start({"cohort": {}, "folds": []})
    assert [p.name for p in tmp_path.iterdir()] == ["kept"] and list((tmp_path / "kept").iterdir()) == []
