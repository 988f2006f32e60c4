"""The demo as a fresh machine gets it: the shipped checkpoint's Ablations page shows its cross-validated table.

Slow: builds the full demo cohort (104 patients) in the session's cache, as a first ``streamlit run`` does, then
runs the real app (Home → Ablations) under AppTest with no model chosen: the demo checkpoint is the shipped one.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from memamba_core.demo import ensure_demo
from memamba_core.runs import read_ablation_table
from memamba_core.runs import RunPaths
from memamba_core.train.demo_model import ensure_demo_model, shipped_demo_model

pytestmark = pytest.mark.slow

HOME = str(Path(__file__).resolve().parents[1] / "dashboard" / "Home.py")


@pytest.fixture()
def fresh_demo_env(monkeypatch):
    ensure_demo("full")  # the session cache (MEMAMBA_CACHE); other slow tests share the build
    run = ensure_demo_model("full")  # what a first start does: the shipped run, copied (no training: same spec)
    assert (RunPaths(run).ablations.read_bytes() == RunPaths(shipped_demo_model("full")).ablations.read_bytes())
    for k in ("MEMAMBA_DEFAULT_MODEL", "MEMAMBA_DEMO_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_shipped_demo_shows_its_ablation_table(fresh_demo_env):
    shipped = read_ablation_table(RunPaths(shipped_demo_model("full")).ablations)
    at = AppTest.from_file(HOME, default_timeout=400)
    at.switch_page("app_pages/4_Ablations.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    tables = [d.value for d in at.dataframe]
    assert len(tables) == 1, "the Ablations page shows exactly the cross-validated table"
    table = tables[0]
    assert table["variant"].tolist() == shipped["variant"].tolist()
    assert "full" in set(table["variant"]) and len(table) >= 5
    np.testing.assert_allclose(table["c_index_mean"].to_numpy(float), shipped["c_index_mean"].to_numpy(float))
    full = table.set_index("variant").loc["full", "c_index_mean"]
    assert full == pytest.approx(pd.read_csv(RunPaths(shipped_demo_model("full")).ablations).set_index("variant").loc["full", "c_index_mean"])
    assert not any("no cross-validated ablation table" in i.value for i in at.info)
