"""RunFolder (memamba_core.runs): the lock, the config check and the progress log, without training."""

import json

import pytest

from memamba_core.errors import InputError
from memamba_core.runs import RunFolder, RunPaths, read_progress


def test_second_process_is_locked_out(tmp_path):
    a, b = RunFolder(tmp_path / "run"), RunFolder(tmp_path / "run")
    assert a.start({"train": {"lr": 1}}) == []
    with pytest.raises(InputError, match="another process is training into this run folder"):
        b.start({"train": {"lr": 1}})
    a.release()
    assert b.start({"train": {"lr": 1}}) == []  # free again
    b.release()


def test_config_difference_is_named(tmp_path):
    r = RunFolder(tmp_path)
    r.start({"train": {"lr": 1, "epochs": 3}, "folds": [[1, 2]]})
    r.release()
    with pytest.raises(InputError, match=r"train\.epochs: 3 → 4") as err:
        RunFolder(tmp_path).start({"train": {"lr": 1, "epochs": 4}, "folds": [[1, 2]]})
    assert "lr" not in str(err.value).split("(")[1].split(")")[0]  # only what differs is listed
    RunPaths(tmp_path).config.write_text(json.dumps({"something": "else"}))
    with pytest.raises(InputError, match="not a memamba run folder"):
        RunFolder(tmp_path).start({"train": {}})


def test_a_run_made_before_an_option_existed_resumes_while_the_option_is_off(tmp_path):
    """Upgrading must not strand half-finished runs: a missing key counts as its default, nothing else."""
    old = {"train": {"lr": 1}, "folds": [[1, 2]]}
    r = RunFolder(tmp_path)
    r.start(old)
    r.release()
    defaults = {"train": {"modality_dropout": 0.0}}
    r = RunFolder(tmp_path)
    assert r.start({"train": {"lr": 1, "modality_dropout": 0.0}, "folds": [[1, 2]]}, defaults=defaults) == []
    r.release()
    assert "modality_dropout" not in RunPaths(tmp_path).config.read_text()  # the old record is left as written
    with pytest.raises(InputError, match=r"train\.modality_dropout: '<absent>' → 0\.25"):
        RunFolder(tmp_path).start({"train": {"lr": 1, "modality_dropout": 0.25}, "folds": [[1, 2]]}, defaults=defaults)
    with pytest.raises(InputError, match=r"modality_dropout"):  # without defaults the absence is a difference
        RunFolder(tmp_path).start({"train": {"lr": 1, "modality_dropout": 0.0}, "folds": [[1, 2]]})


def test_defaults_apply_at_any_depth_of_the_record(tmp_path):
    """A nested run's record holds one training config per grid candidate: each gets the defaults."""
    r = RunFolder(tmp_path)
    r.start({"grid": {"a": {"lr": 1}, "b": {"lr": 2}}})
    r.release()
    defaults = {"grid": {"a": {"modality_dropout": 0.0}, "b": {"modality_dropout": 0.0}}}
    r = RunFolder(tmp_path)
    assert r.start({"grid": {"a": {"lr": 1, "modality_dropout": 0.0}, "b": {"lr": 2, "modality_dropout": 0.0}}},
                   defaults=defaults) == []
    r.release()
    with pytest.raises(InputError, match=r"grid\.b\.modality_dropout"):
        RunFolder(tmp_path).start({"grid": {"a": {"lr": 1, "modality_dropout": 0.0}, "b": {"lr": 2, "modality_dropout": 0.5}}},
                                  defaults=defaults)


def test_progress_log_tolerates_a_torn_last_line(tmp_path):
    r = RunFolder(tmp_path)
    r.start({"train": {}})
    r.log(event="epoch", fold=0, loss=1.5)
    r.log(event="epoch", fold=0, loss=1.2)
    with open(r.paths.progress, "a") as fh:
        fh.write('{"event": "epo')  # a killed writer
    recs = read_progress(tmp_path)
    assert [x["loss"] for x in recs] == [1.5, 1.2] and all("t" in x for x in recs)
    assert read_progress(tmp_path / "nothing") == []
    assert r.finished_folds() == []
    r.release()
