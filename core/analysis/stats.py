"""Multiple comparisons across layers × components."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control


def mark_significant(
    scores: pd.DataFrame,
    *,
    alpha: float = 0.05,
    family: tuple[str, ...] = ("model", "stimulus_set", "pooling", "target", "metric"),
) -> pd.DataFrame:
    """Add ``q_value`` (Benjamini-Hochberg) and ``significant`` to per-layer p-values.

    The correction runs over all layers × components of one family (by default one
    target of one model, stimulus set, pooling and metric): the layers a curve shades as
    significant are then a set with a controlled false discovery rate.  Rows without a
    p-value (non-primary metrics) get NaN and ``significant = False``.  Calibration
    (``tests/analysis/test_calibration.py``): with 100 permutations per cell, no cell of 90
    is shaded in 200 null simulations, and at least 18 cells must reach p = 1/101 before BH
    can shade any.

    Parameters
    ----------
    scores : DataFrame
        Rows with ``p_value`` (n_rows,) and the ``family`` columns.
    alpha : float, default=0.05
        The false discovery rate.
    family : tuple of str
        Columns whose groups are corrected together.

    Returns
    -------
    DataFrame
        ``scores`` with ``q_value`` and ``significant`` (n_rows,).

    Raises
    ------
    ValueError
        When ``scores`` has no ``p_value`` column.
    """
    if "p_value" not in scores.columns:
        raise ValueError("scores need a p_value column")
    out = scores.copy()
    out["q_value"] = np.nan
    keys = [c for c in family if c in out.columns]
    groups = (
        out.groupby(keys if len(keys) > 1 else keys[0], sort=False).groups.values()
        if keys
        else [out.index]
    )
    for index in groups:
        p = out.loc[index, "p_value"]
        valid = p.notna()
        if valid.any():
            out.loc[p[valid].index, "q_value"] = false_discovery_control(p[valid].to_numpy())
    out["significant"] = out["q_value"].le(alpha)
    return out
