"""``memamba doctor``: device, backends, kernels (or why not), and the speed table."""

from __future__ import annotations

import json

import pytest
import torch

from memamba_core.cli import main
from memamba_core.doctor import DoctorSizes, format_report, run_doctor
from memamba_core.errors import InputError
from memamba_core.ssm import HAS_MAMBA_SSM, active_backend
from tests._model_helpers import single_thread  # noqa: F401  (autouse: one thread per test)

TINY = ["--scan-length", "64", "--infer-patches", "48", "--train-patches", "40", "--repeats", "1"]


def test_report_names_device_backends_kernels_and_times_every_row():
    rep = run_doctor(DoctorSizes(scan_length=64, infer_patches=48, train_patches=40, repeats=1), devices=["cpu"])
    env, be = rep["environment"], rep["backends"]
    assert env["torch"] == torch.__version__ and env["cuda_available"] == torch.cuda.is_available()
    assert be["scan"]["cpu"] == active_backend("cpu")
    assert set(be["kernels"]) == {"fused CPU scan", "mamba_ssm", "causal_conv1d"}
    if not HAS_MAMBA_SSM:
        assert be["kernels"]["mamba_ssm"].startswith("not used: ") and "mamba_ssm" in be["kernels"]["mamba_ssm"]
    assert set(be["slide_readers"]) == {"openslide", "tiffslide"}
    rows = rep["speed"]
    assert [r["what"] for r in rows] == ["scan forward", "scan forward+backward", "inference (one patient)",
                                         "training step (fwd+bwd+Adam)"]
    assert all(r["device"] == "cpu" and r["seconds"] > 0 for r in rows)
    assert rows[0]["size"] == "B=1 E=512 S=16 L=64" and rows[2]["size"] == "N=48" and rows[3]["size"] == "N=40"
    text = format_report(rep)
    assert "scan backend:" in text and "mamba_ssm:" in text and "training step (fwd+bwd+Adam)" in text


def test_cli_json_and_facts_only(capsys):
    assert main(["doctor", "--json", "--device", "cpu", *TINY]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["sizes"] == {"scan_length": 64, "infer_patches": 48, "train_patches": 40, "repeats": 1}
    assert len(rep["speed"]) == 4
    assert main(["doctor", "--no-speed"]) == 0
    out = capsys.readouterr().out
    assert "kernels:" in out and "seconds" not in out


def test_bad_sizes_and_devices_are_input_errors(capsys):
    assert main(["doctor", "--repeats", "0"]) == 2
    assert "repeats must be at least 1" in capsys.readouterr().err
    with pytest.raises(InputError, match="unknown device"):
        run_doctor(DoctorSizes.quick(), devices=["tpu9"], speed=False)
    if not torch.cuda.is_available():
        assert main(["doctor", "--device", "cuda", *TINY]) == 2
        assert "no CUDA device" in capsys.readouterr().err
