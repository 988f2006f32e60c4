"""Property-based tests (Hypothesis) at the data boundary (issue 14).

For the label-CSV loader, the feature-file loader and the cohort-file loader:
any file a strategy builds either loads correctly (checked invariants) or
raises :class:`~memamba_core.errors.InputError` — never another exception —
and the input folder is byte-identical afterwards. Budget: ``tests/_hypothesis.py``.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import shutil
import tempfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from memamba_core.data import Bag, Cohort, load_cohort
from memamba_core.errors import InputError
from tests._cohort_fixtures import make_clam_cohort
from tests._hypothesis import budget, folder_digest


def _load(path, **kw) -> Cohort | None:
    """load_cohort, or None on InputError; any other exception fails the test."""
    try:
        cohort = load_cohort(path, **kw)
    except InputError as err:
        assert str(err), "an InputError must carry a message"
        event("InputError")
        return None
    event("loaded")
    return cohort


def _check_cohort(c: Cohort) -> None:
    """What a user relies on from any cohort that loads."""
    assert c.patients and len(set(c.case_ids())) == len(c.patients)
    for p in c.patients:
        assert math.isfinite(p.survival_months) and p.survival_months >= 0 and p.censorship in (0, 1)
    json.dumps(c.summary().to_dict())
    assert len(c.clinical_frame()) == len(c.patients)
    ids = [x for x in c.case_ids() if c.has_genomics(x)]
    if ids:
        scaler = c.fit_scaler(ids)
        tokens = c.genomic_tokens(ids[0], scaler)
        assert len(tokens) == len(c.groups.names) and all(torch.isfinite(t).all() for t in tokens)


# ---- label CSV ---------------------------------------------------------------------------------
_CASES = ["CASE-0", "CASE-1", "CASE-2", " CASE-3 ", "case-0", ""]
_COLUMNS = ["case_id", "slide_id", "survival_months", "censorship", "survival_months_dss", "censorship_dss",
            "age", "site", "is_female", "oncotree_code", "GENE0_rnaseq", "GENE1_rnaseq", "GENE1_cnv", "GENE2_mut",
            "Unnamed: 0", "train"]
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_cell = st.one_of(
    st.sampled_from(_CASES), st.sampled_from(["0", "1", "2", "-1", "0.5", "inf", "-inf", "nan", "NA", "1e400", " ", "", "x"]),
    st.integers(-3, 100), st.floats(allow_nan=True, allow_infinity=True, width=32), _text,
)


_good = {  # a plausible value for each column (most cells); any cell may instead be wild
    "case_id": st.sampled_from(_CASES[:3]),
    "survival_months": st.floats(0, 120, width=32), "survival_months_dss": st.floats(0, 120, width=32),
    "censorship": st.sampled_from([0, 1]), "censorship_dss": st.sampled_from([0, 1, None]),
    "age": st.integers(20, 90), "is_female": st.sampled_from([0, 1]),
}


@st.composite
def label_tables(draw):
    required = [c for c in _COLUMNS[:4] if draw(st.integers(0, 19)) > 0]
    genomic = ["GENE0_rnaseq"] if draw(st.integers(0, 4)) > 0 else []
    extra = draw(st.lists(st.one_of(st.sampled_from(_COLUMNS[4:]), _text), max_size=5))
    columns = list(dict.fromkeys(required + genomic + extra))
    n = draw(st.integers(0, 7) if draw(st.integers(0, 9)) == 0 else st.integers(1, 7))
    wild = draw(st.sampled_from([0.0, 0.0, 0.02, 0.2]))
    rows = []
    for i in range(n):
        row = []
        for c in columns:
            if draw(st.floats(0, 1)) < wild:
                row.append(draw(_cell))
            elif c == "slide_id":
                row.append(f"S{i}.svs")
            elif c.endswith(("_rnaseq", "_cnv", "_mut")):
                row.append(draw(st.one_of(st.floats(-5, 5, width=32), st.none())))
            else:
                row.append(draw(_good.get(c, _cell)))
        rows.append(row)
    return pd.DataFrame(rows, columns=columns, dtype=object)


@st.composite
def label_files(draw):
    """(file name, bytes) of a label table: pandas-written with a random delimiter / compression, or raw text."""
    kind = draw(st.sampled_from(["csv"] * 5 + ["csv.gz", "zip", "raw"]))
    if kind == "raw":
        tokens = st.sampled_from([*'ab,;\t"\r 01.-_', "case_id", "slide_id", "survival_months", "censorship", "\\N"])
        lines = draw(st.lists(st.lists(tokens, max_size=12).map("".join), max_size=6))
        return "labels.csv", "\n".join(lines).encode("utf-8")
    table = draw(label_tables())
    text = table.to_csv(index=draw(st.booleans()), sep=draw(st.sampled_from([","] * 6 + [";", "\t"])))
    data = text.encode("utf-8")
    if kind == "csv.gz":
        return "labels.csv.gz", gzip.compress(data, mtime=0)
    if kind == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("labels.csv", data)
        return "labels.zip", buf.getvalue()
    return "labels.csv", data


@budget(40)
@given(label_files(), st.sampled_from([None, "os", "dss"]), st.booleans())
def test_any_label_csv_loads_or_raises_input_error(file, endpoint, with_signatures):
    name, data = file
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "cohort"
        root.mkdir()
        (root / name).write_bytes(data)
        if with_signatures:
            (root / "signatures.csv").write_text("A,B\nGENE0,GENE1\nGENE2,\n")
        before = folder_digest(root)
        cohort = _load(root, endpoint=endpoint)
        if cohort is not None:
            _check_cohort(cohort)
            assert cohort.endpoint == (endpoint or "os")
        assert folder_digest(root) == before


# ---- feature files -----------------------------------------------------------------------------
_DTYPES = [np.float32, np.float16, np.float64, np.int64, np.uint8, np.bool_, np.complex64]


@st.composite
def arrays(draw, max_dims=3, width=4):
    """Mostly (N, width) or (1, N, width) float32 features; sometimes any shape and dtype."""
    n = draw(st.integers(0, 4))
    shape = tuple(draw(st.sampled_from([(n, width)] * 3 + [(1, n, width), (n, 2)]) | st.lists(st.integers(0, 4), max_size=max_dims)))
    dtype = draw(st.sampled_from([np.float32] * 4 + _DTYPES))
    size = int(np.prod(shape)) if shape else 1
    finite = draw(st.sampled_from([True, True, False]))
    values = draw(st.lists(st.floats(allow_nan=not finite, allow_infinity=not finite, width=32), min_size=size, max_size=size))
    with np.errstate(invalid="ignore", over="ignore"):
        arr = np.asarray(values, dtype=np.float64).reshape(shape)
        return np.nan_to_num(arr, nan=0, posinf=1, neginf=-1).astype(dtype) if dtype not in (np.float32, np.float16, np.float64) else arr.astype(dtype)


@st.composite
def pt_files(draw):
    kind = draw(st.sampled_from(["tensor", "tensor", "object", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    buf = io.BytesIO()
    if kind == "tensor":
        torch.save(torch.from_numpy(np.ascontiguousarray(draw(arrays()))), buf)
    else:
        torch.save(draw(st.sampled_from([{"features": torch.zeros(2, 3)}, [torch.zeros(2, 3)], 3, "text", None])), buf)
    return buf.getvalue()


_ATTR = st.one_of(st.integers(-5, 1024), st.floats(allow_nan=True), st.just(np.array([256, 1])),
                  st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=4))  # HDF5 text: no NUL


def _write_h5_spec(path: Path, spec: dict) -> None:
    with h5py.File(path, "w") as f:
        for name in ("features", "coords"):
            if spec.get(name) is not None:
                value = spec[name]
                ds = f.create_dataset(name, data=value) if not isinstance(value, str) else f.create_group(name)
                if name == "coords" and hasattr(ds, "attrs"):
                    for k, v in spec["attrs"].items():
                        ds.attrs[k] = v
        for k, v in spec["file_attrs"].items():
            f.attrs[k] = v


@st.composite
def h5_specs(draw):
    features = draw(st.one_of(arrays(), arrays(), st.none(), st.just("group")))
    n = features.shape[-2] if isinstance(features, np.ndarray) and features.ndim >= 2 else 0
    coords = np.arange(2 * n, dtype=np.int64).reshape(n, 2) * 256
    return {
        "features": features,
        "coords": draw(st.one_of(st.just(coords), st.just(coords.astype(np.float64)), st.none(), arrays(width=2), st.just("group"))),
        "attrs": draw(st.dictionaries(st.sampled_from(["patch_size", "patch_level"]), _ATTR, max_size=2)),
        "file_attrs": draw(st.dictionaries(st.sampled_from(["patch_size", "patch_level"]), _ATTR, max_size=2)),
    }


@pytest.fixture(scope="module")
def bag_template(tmp_path_factory):
    return make_clam_cohort(tmp_path_factory.mktemp("bags"), n_patients=2, feature_dim=4, multi_slide_case=True, genomics=False)


def _check_bag(bag: Bag, width: int | None) -> None:
    x = bag.features
    assert x.dtype == torch.float32 and x.ndim == 2 and x.shape[0] > 0 and bool(torch.isfinite(x).all())
    assert width is None or x.shape[1] == width
    assert bag.slide_index.shape == (x.shape[0],)
    if bag.coords is not None:
        assert bag.coords.shape == (x.shape[0], 2) and bag.coords.dtype == np.int64


@budget(30)
@given(st.one_of(st.tuples(st.just("pt"), pt_files()), st.tuples(st.just("h5"), h5_specs()),
                 st.tuples(st.just("h5bytes"), st.binary(max_size=64))))
def test_any_feature_file_loads_or_raises_input_error(bag_template, file):
    kind, payload = file
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "cohort"
        shutil.copytree(bag_template, root)
        target = "CASE-000-DX2"  # the second slide of the two-slide patient
        (root / "h5_files" / f"{target}.h5").unlink()
        (root / "pt_files" / f"{target}.pt").unlink()
        if kind == "pt":
            (root / "pt_files" / f"{target}.pt").write_bytes(payload)
        elif kind == "h5":
            _write_h5_spec(root / "h5_files" / f"{target}.h5", payload)
        else:
            (root / "h5_files" / f"{target}.h5").write_bytes(payload)
        before = folder_digest(root)
        cohort = _load(root)
        assert cohort is not None and cohort.feature_dim() == 4  # the odd file never decides the width
        for case in cohort.case_ids():
            try:
                bag = cohort.load_bag(case)
            except InputError:
                assert case == "CASE-000"
                event("bad bag refused")
                continue
            _check_bag(bag, 4)
            event(f"bag of {case} loaded")
        assert set(cohort.check_bags()) <= {"CASE-000"}
        assert folder_digest(root) == before


# ---- cohort files ------------------------------------------------------------------------------
_KEYS = ["name", "root", "study", "endpoint", "labels", "genomics", "clinical", "signatures", "pathways",
         "rna_source", "pathway_set", "pt_dir", "h5_dir", "slides_dir", "splits", "feature_dim", "nope"]
_PATHS = ["labels.csv", "signatures.csv", "h5_files", "pt_files", "splits", "splits/splits_0.csv", "..", "../outer.txt",
          "/", "/etc/passwd", "~", "missing.csv", "", ".", "h5_files/CASE-000-DX1.h5", "a\u0000b", "x" * 300]
_scalar = st.one_of(st.sampled_from(_PATHS), _text, st.integers(-2, 5000), st.booleans(),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["os", "dss", "DSS", "xena"]))
_value = st.one_of(_scalar, st.lists(_scalar, max_size=3), st.dictionaries(st.sampled_from(["a", "b"]), _scalar, max_size=2))


def _toml(data: dict) -> str:
    def v(x):
        if isinstance(x, bool):
            return "true" if x else "false"
        if isinstance(x, (int, float)):
            return "nan" if x != x else ("inf" if x == math.inf else "-inf" if x == -math.inf else repr(x))
        if isinstance(x, str):
            return json.dumps(x)
        if isinstance(x, list):
            return "[" + ", ".join(v(i) for i in x) + "]"
        return "{" + ", ".join(f"{json.dumps(k)} = {v(i)}" for k, i in x.items()) + "}"

    return "".join(f"{json.dumps(k)} = {v(x)}\n" for k, x in data.items())


@pytest.fixture(scope="module")
def cohort_template(tmp_path_factory):
    return make_clam_cohort(tmp_path_factory.mktemp("cf"), n_patients=3, feature_dim=4, n_splits=2, with_pt=False)


@budget(60)
@given(st.dictionaries(st.sampled_from(_KEYS), _value, max_size=5), st.sampled_from(["inside.toml", "outside.toml", "inside.yaml", "raw"]),
       st.text(max_size=60))
def test_any_cohort_file_loads_or_raises_input_error(cohort_template, data, where, raw):
    with tempfile.TemporaryDirectory() as d:
        outer = Path(d) / "outer"
        root = outer / "cohort"
        shutil.copytree(cohort_template, root)
        (outer / "outer.txt").write_text("not a cohort file")
        if where == "raw":
            target, text = root / "cohort.toml", raw
        elif where == "inside.yaml":
            target, text = root / "cohort.yaml", yaml.safe_dump(data, allow_unicode=True)
        else:
            target = root / "cohort.toml" if where == "inside.toml" else outer / "c.toml"
            if where == "outside.toml":
                data = {"root": "cohort", **data}
            text = _toml(data)
        target.write_text(text, encoding="utf-8", errors="surrogatepass")
        before = folder_digest(outer)
        cohort = _load(target if where == "outside.toml" else root)
        if cohort is not None:
            _check_cohort(cohort)
            assert cohort.root == root.resolve() or root.resolve() in cohort.root.parents
        assert folder_digest(outer) == before
