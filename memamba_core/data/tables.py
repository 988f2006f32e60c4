"""Reading the cohort's CSV tables (plain, ``.csv.gz`` or single-file ``.zip``).

Every failure to parse becomes an :class:`~memamba_core.errors.InputError`
naming the file. A table saved with another delimiter (semicolon or tab, as
spreadsheet programs in many locales write) is named as such, with the fix,
instead of being shown as one giant column. An unnamed leading index column
(``Unnamed: 0``, as pandas writes it) is dropped unless asked for.

Messages never quote more than a short preview of a user's column names or
cell values (:func:`short`, :func:`preview`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from ..errors import InputError

__all__ = ["read_table", "read_header", "row_list", "short", "preview", "is_unnamed"]

ID_COLUMNS = ("case_id", "slide_id", "train", "val", "test")
_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


def short(value: object, width: int = 40) -> str:
    """``repr``-free text of ``value`` cut to ``width`` characters (``…`` marks a cut)."""
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def preview(values, limit: int = 12, width: int = 40) -> str:
    """``"a, b, c …"``: the first ``limit`` values, each cut by :func:`short`."""
    values = list(values)
    text = ", ".join(short(v, width) for v in values[:limit])
    return text + (f" … ({len(values)} in all)" if len(values) > limit else "")


def is_unnamed(column: object) -> bool:
    """True for a header cell pandas filled in (``Unnamed: 0``) or an empty one."""
    text = str(column).strip()
    return not text or text.startswith("Unnamed:")


def _first_line(path: Path) -> str | None:
    """The first line of the (possibly compressed) file, or None when it cannot be read."""
    try:
        line = pd.read_csv(path, compression="infer", header=None, nrows=1, sep="\x01", dtype=str,
                           quoting=csv.QUOTE_NONE, engine="python", keep_default_na=False)
    except Exception:  # unreadable: the caller reports the original error
        return None
    return str(line.iat[0, 0]) if line.shape[0] and line.shape[1] else None


def _delimiter_hint(path: Path) -> str | None:
    """``"semicolon"`` / ``"tab"`` / ``"pipe"`` when the header line uses that instead of commas."""
    line = _first_line(path)
    if not line:
        return None
    counts = {d: line.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.get)
    if counts[best] and counts[best] > line.count(","):
        return _DELIMITERS[best]
    return None


def _wrong_delimiter(path: Path, kind: str) -> InputError:
    return InputError(
        f"{path}: this looks {kind}-delimited (its header row is separated by {kind}s, not commas); "
        f"save it comma-separated (CSV, UTF-8) and load it again."
    )


def _read(path: Path, **kw) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, compression="infer", **kw)
    except FileNotFoundError as err:
        raise InputError(f"{path}: file not found; check the path.") from err
    except IsADirectoryError as err:
        raise InputError(f"{path}: is a folder, not a CSV table; name the table file itself.") from err
    except pd.errors.EmptyDataError as err:
        raise InputError(f"{path}: the file is empty; it needs a header row and data rows.") from err
    except Exception as err:  # ParserError, UnicodeDecodeError, BadZipFile, OSError, ...
        kind = _delimiter_hint(path)
        if kind is not None:
            raise _wrong_delimiter(path, kind) from err
        raise InputError(
            f"{path}: cannot be read as a CSV table ({type(err).__name__}: {short(err, 200)}); "
            f"save it as comma-separated UTF-8 text (optionally .csv.gz or a .zip holding one CSV)."
        ) from err
    if df.shape[1] == 1:
        kind = next((k for d, k in _DELIMITERS.items() if d in str(df.columns[0])), None)
        if kind is not None:
            raise _wrong_delimiter(path, kind)
    return df


def read_header(path: Path) -> list[str]:
    """Column names of a table (reads no data rows)."""
    return [str(c) for c in _read(path, nrows=0).columns]


def read_table(path: Path, *, drop_unnamed: bool = True) -> pd.DataFrame:
    """Read a whole table; id-like columns are read as strings, whitespace stripped.

    ``drop_unnamed=False`` keeps ``Unnamed:`` columns (e.g. a gene-symbol or
    case-id index column without a header; the first one is read as text). Returns a DataFrame with a fresh
    RangeIndex (row i is the i-th data row, shown to users as row i + 1).
    """
    df = _read(path, dtype={c: str for c in (*ID_COLUMNS, "Unnamed: 0")}, low_memory=False)
    if drop_unnamed:
        df = df.loc[:, [not is_unnamed(c) for c in df.columns]]
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
