"""Reading the cohort's CSV tables (plain, ``.csv.gz`` or single-file ``.zip``).

Every failure to parse becomes an :class:`~memamba_core.errors.InputError`
naming the file. An unnamed leading index column (``Unnamed: 0``, as pandas
writes it) is dropped.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError

__all__ = ["read_table", "read_header", "row_list"]

ID_COLUMNS = ("case_id", "slide_id", "train", "val", "test")


def _read(path: Path, **kw) -> pd.DataFrame:
    try:
        return pd.read_csv(path, compression="infer", **kw)
    except FileNotFoundError as err:
        raise InputError(f"{path}: file not found; check the path.") from err
    except pd.errors.EmptyDataError as err:
        raise InputError(f"{path}: the file is empty; it needs a header row and data rows.") from err
    except Exception as err:  # ParserError, UnicodeDecodeError, BadZipFile, OSError, ...
        raise InputError(
            f"{path}: cannot be read as a CSV table ({type(err).__name__}: {err}); "
            f"save it as comma-separated UTF-8 text (optionally .csv.gz or a .zip holding one CSV)."
        ) from err


def read_header(path: Path) -> list[str]:
    """Column names of a table (reads no data rows)."""
    return [str(c) for c in _read(path, nrows=0).columns]


def read_table(path: Path, *, drop_unnamed: bool = True) -> pd.DataFrame:
    """Read a whole table; id-like columns are read as strings, whitespace stripped.

    ``drop_unnamed=False`` keeps ``Unnamed:`` columns (e.g. a gene-symbol
    index column without a header). Returns a DataFrame with a fresh RangeIndex (row i is the i-th data row,
    shown to users as row i + 1).
    """
    df = _read(path, dtype={c: str for c in ID_COLUMNS}, low_memory=False)
    if drop_unnamed:
        df = df.loc[:, [not str(c).startswith("Unnamed:") for c in df.columns]]
    df.columns = [str(c).strip() for c in df.columns]
    for c in ID_COLUMNS:
        if c in df.columns:
            df[c] = df[c].str.strip().replace("", pd.NA)
    return df.reset_index(drop=True)


def row_list(rows, limit: int = 10) -> str:
    """``"data rows 4, 17, 52"`` (counted from 1 below the header), shortened past ``limit``."""
    rows = [int(r) + 1 for r in rows]
    text = ", ".join(str(r) for r in rows[:limit])
    if len(rows) > limit:
        text += f" and {len(rows) - limit} more"
    return ("data row " if len(rows) == 1 else "data rows ") + text
