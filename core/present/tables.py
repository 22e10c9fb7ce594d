"""Tables for reading: identifying columns first, an estimate and its interval in one cell.

The analyses return tidy frames with ``x``, ``x_lo``, ``x_hi`` as separate numbers, which is
right for a CSV and wrong for a reader (``peak_depth (smollm2-135m)_lo`` as a header).
:func:`readable` turns them into ``0.34 [0.28, 0.41]`` under the estimate's own name and puts
what identifies a row (model, set, component, target, estimator) on the left.  Downloads
keep the numbers: only what is shown is text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

IDENTIFYING: tuple[str, ...] = (
    "model",
    "stimulus_set",
    "pooling",
    "component",
    "target",
    "estimator",
    "label",
)
INTERVALS: dict[str, tuple[str, str]] = {
    "expected_depth": ("lo", "hi"),
    "peak_depth": ("peak_lo", "peak_hi"),
    "baseline_mean": ("baseline_lo", "baseline_hi"),
}
"""Estimates whose interval columns do not follow the ``x_lo``/``x_hi`` pattern."""


def _cell(value: float, lo: float, hi: float, digits: int) -> str:
    if not np.isfinite(value):
        return ""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def intervals_of(frame: pd.DataFrame, extra: Mapping[str, tuple[str, str]] = ()) -> dict:
    """Every estimate column of ``frame`` with its (lo, hi) columns.

    Returns
    -------
    dict of str to (str, str)
        ``x → (x_lo, x_hi)`` for every ``x`` with both, plus the :data:`INTERVALS` and
        ``extra`` pairs present in ``frame``.
    """
    found = {
        c: (f"{c}_lo", f"{c}_hi")
        for c in frame.columns
        if f"{c}_lo" in frame.columns and f"{c}_hi" in frame.columns
    }
    for column, (lo, hi) in {**INTERVALS, **dict(extra)}.items():
        if column in frame.columns and lo in frame.columns and hi in frame.columns:
            found.setdefault(column, (lo, hi))
    return found


def readable(
    frame: pd.DataFrame,
    *,
    digits: int = 2,
    intervals: Mapping[str, tuple[str, str]] = (),
    first: Sequence[str] = IDENTIFYING,
    drop: Sequence[str] = (),
    rename: Mapping[str, str] = (),
) -> pd.DataFrame:
    """A copy of ``frame`` for display: intervals merged, identifying columns first.

    Parameters
    ----------
    frame : DataFrame
        Any analysis table.
    digits : int
        Decimals of the merged cells and of the other float columns.
    intervals : mapping, optional
        More ``estimate → (lo, hi)`` pairs than :func:`intervals_of` finds.
    first : sequence of str
        Columns to put first, in this order, when present.
    drop : sequence of str
        Columns not to show.
    rename : mapping, optional
        Header changes applied last (e.g. ``baseline_mean`` → ``noise baseline``).

    Returns
    -------
    DataFrame
        Same rows; each estimate with an interval becomes one text column
        ``"0.34 [0.28, 0.41]"`` and its bounds are gone; other floats are rounded.
    """
    out = frame.drop(columns=[c for c in drop if c in frame.columns]).copy()
    pairs = intervals_of(out, intervals)
    for column, (lo, hi) in pairs.items():
        out[column] = [
            _cell(float(v), float(a), float(b), digits)
            for v, a, b in zip(out[column], out[lo], out[hi])
        ]
    bounds = {c for pair in pairs.values() for c in pair} - set(pairs)
    out = out.drop(columns=[c for c in bounds if c in out.columns])
    floats = out.select_dtypes("float").columns
    out[floats] = out[floats].round(digits)
    lead = [c for c in first if c in out.columns]
    out = out[[*lead, *(c for c in out.columns if c not in lead)]]
    return out.rename(columns=dict(rename))
