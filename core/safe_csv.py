"""CSV files that leave Strata, safe to open in a spreadsheet (no formula injection).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula: a stimulus text ``=HYPERLINK("http://…")`` or a target named
``=cmd|' /C calc'!A0`` would act when a colleague opens the exported file.  Every CSV that
Strata writes for people (``export``'s ``stimuli.csv``, ``report --out`` tables, the app's
CSV buttons) goes through :func:`to_csv`, which applies OWASP's rule: such a text cell or
header gets a leading single quote, which spreadsheets show as text.  Numbers are left as
they are, negative ones included (``-0.5``, ``+3``, ``-1e-3``), and so are numeric columns;
text cells are quoted, so a carriage return inside one cannot start a new row.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(value):
    """``value`` with a leading ``'`` when a spreadsheet would run it as a formula.

    Parameters
    ----------
    value : object
        A cell or header; only strings change.

    Returns
    -------
    object

    Examples
    --------
    >>> neutralise("=1+1"), neutralise("-0.5"), neutralise("-x"), neutralise(3)
    ("'=1+1", '-0.5', "'-x", 3)
    """
    if isinstance(value, str) and value.startswith(TRIGGERS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell and header neutralised (numeric columns untouched).

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)

    Returns
    -------
    DataFrame of shape (n_rows, n_columns)
    """
    columns = []
    for i in range(frame.shape[1]):  # by position: a header may repeat
        values = frame.iloc[:, i]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype | pd.CategoricalDtype):
            values = values.astype(object).map(neutralise)
        columns.append(values)
    out = pd.concat(columns, axis=1) if columns else frame.copy()
    out.columns = [neutralise(c) for c in frame.columns]
    return out


def to_csv(frame: pd.DataFrame, path: str | Path | None = None) -> str | None:
    """``frame.to_csv(path, index=False)`` after :func:`safe_frame`; the text when no path.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
    path : path, optional
        Where to write; ``None`` returns the CSV text (the app's download buttons).

    Returns
    -------
    str or None
        The CSV text when ``path`` is None.
    """
    # Text cells are quoted: pandas leaves a bare carriage return unquoted, and a
    # spreadsheet that breaks the row there would start a new cell with what follows.
    return safe_frame(frame).to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
