"""Error analysis: where in a stimulus set the probe goes wrong, split by a metadata column.

Pure functions over per-stimulus held-out predictions (``item_predictions``): the score per
layer in each subgroup (for small multiples), and a test of whether a subgroup is wrong
more often than the rest.  The test's null shuffles the subgroup labels *within each
class*: a probe that errs more on one class would otherwise make any subgroup rich in that
class look bad, which says nothing about the subgroup itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from core.errors import StrataError

MAX_SUBGROUPS = 12
"""A column with more distinct values than this is not a subgrouping (ids, synsets)."""


def subgroups(values: pd.Series, *, n_bins: int = 3) -> pd.Series:
    """Subgroup labels of a metadata column: numbers with many values become quantile bins.

    Parameters
    ----------
    values : Series of shape (n_items,)
        A ``meta_*`` or label column.
    n_bins : int, default=3
        Quantile bins (terciles) for a numeric column with more than ``2 * n_bins`` values.

    Returns
    -------
    Series of str, shape (n_items,)
        ``"low (≤ 3.1)"``, ``"mid (3.1-4.2)"``, ``"high (> 4.2)"`` for a binned column (the
        bin edges in the labels), else the values as text; missing values stay missing.

    Examples
    --------
    >>> subgroups(pd.Series([1.0, 2, 3, 4, 5, 6, 7, 8, 9])).tolist()[:1]
    ['low (≤ 3.67)']
    """
    numeric = pd.to_numeric(values, errors="coerce")
    is_numeric = numeric.notna().sum() == values.notna().sum() and values.notna().any()
    if is_numeric and numeric.nunique() > 2 * n_bins:
        edges = np.unique(np.nanquantile(numeric, np.linspace(0, 1, n_bins + 1)))
        inner = edges[1:-1]
        names = (
            ["low", "mid", "high"] if len(inner) == 2 else [f"q{k + 1}" for k in range(len(edges))]
        )
        labels = []
        for k in range(len(inner) + 1):
            if k == 0:
                labels.append(f"{names[k]} (≤ {inner[0]:.3g})")
            elif k == len(inner):
                labels.append(f"{names[k]} (> {inner[-1]:.3g})")
            else:
                labels.append(f"{names[k]} ({inner[k - 1]:.3g}-{inner[k]:.3g})")
        codes = np.searchsorted(inner, numeric.to_numpy(), side="left")
        out = pd.Series([labels[c] for c in codes], index=values.index, dtype=object)
        return out.where(numeric.notna())
    # an empty cell is a subgroup of its own (e.g. pairs' meta_order for unordered pairs)
    return (
        values.astype(object)
        .where(values.notna())
        .map(lambda v: v if pd.isna(v) else (str(v) if str(v).strip() else "(blank)"))
    )


def subgroup_columns(frame: pd.DataFrame, *, exclude: Sequence[str] = ()) -> list[str]:
    """Columns of a stimulus set that split it into 2..``MAX_SUBGROUPS`` subgroups.

    The ``meta_*`` columns and the labels of classification targets other than those in
    ``exclude`` (e.g. ``relation`` when probing ``related``); numeric columns count after
    binning into terciles.  Constant columns (one subgroup) are left out.

    Returns
    -------
    list of str
    """
    skip = {"item_id", "text", "group", "words", "spans", *exclude}
    out = []
    for column in frame.columns:
        if column in skip:
            continue
        n = subgroups(frame[column]).nunique()
        if 2 <= n <= MAX_SUBGROUPS:
            out.append(column)
    return out


def subgroup_scores(rows: pd.DataFrame) -> pd.DataFrame:
    """The score of each layer within each subgroup: accuracy, or mean error for ridge.

    Parameters
    ----------
    rows : DataFrame
        Per (stimulus, component, layer): ``subgroup``, ``component``, ``layer`` and
        ``error`` (0/1 for classification, a loss for ridge) and ``correct`` (boolean, or
        missing for ridge targets).

    Returns
    -------
    DataFrame
        One row per (subgroup, component, layer): ``n``, ``score`` (share correct, or the
        mean error when ``correct`` is missing) and ``score_se`` (binomial SE, or SE of
        the mean).
    """
    rows = rows.dropna(subset=["subgroup", "error"])
    classified = rows["correct"].notna().all() if "correct" in rows else False
    value = rows["correct"].astype(float) if classified else rows["error"].astype(float)
    grouped = rows.assign(value=value).groupby(["subgroup", "component", "layer"])["value"]
    out = grouped.agg(n="size", score="mean", sd="std").reset_index()
    if classified:
        out["score_se"] = np.sqrt(out["score"] * (1 - out["score"]) / out["n"])
    else:
        out["score_se"] = out["sd"] / np.sqrt(out["n"])
    return out.drop(columns="sd")


def _shuffled_codes(codes: np.ndarray, strata: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` shufflings of ``codes`` that keep every stratum's own codes (within class).

    Returns
    -------
    ndarray of int, shape (n, n_items)
    """
    order = np.argsort(strata, kind="stable")
    keys = rng.random((n, len(codes)))
    # sorted by stratum, random within it: the same stratum blocks as ``order``
    perm = np.lexsort((keys, np.broadcast_to(strata, keys.shape)), axis=-1)
    out = np.empty((n, len(codes)), dtype=np.int64)
    out[:, order] = codes[perm]
    return out


def subgroup_errors(
    errors: np.ndarray,
    subgroup: Sequence,
    classes: Sequence | None = None,
    *,
    n_shuffles: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Which subgroups does the probe get wrong more often than the rest of the set?

    Statistic per subgroup: its stimuli's mean error minus that of the other stimuli
    (one-sided: worse).  Null: the subgroup labels shuffled within each class
    (``n_shuffles`` times), so each subgroup keeps its size and its class make-up, and a
    probe that is worse on one class does not flag the subgroups rich in it.  p-values
    count the observed statistic among the shuffles (``(1 + k) / (1 + n_shuffles)``);
    Benjamini-Hochberg over the subgroups.  Calibration in
    ``tests/analysis/test_errors.py``.

    Parameters
    ----------
    errors : ndarray of shape (n_items,) or (n_items, n_cells)
        Per stimulus, 1 for wrong and 0 for right (or a loss) in each cell (e.g. every
        layer of a component); averaged over cells into each stimulus's error rate.
        NaN cells are ignored; stimuli without any value are dropped.
    subgroup : sequence of shape (n_items,)
        Subgroup labels; missing labels drop the stimulus.
    classes : sequence of shape (n_items,), optional
        True classes (strata of the shuffle).  None: one stratum (ridge targets).
    n_shuffles : int, default=2000
    alpha : float, default=0.05
        False discovery rate over subgroups.
    seed : int, default=0

    Returns
    -------
    DataFrame, one row per subgroup (most excess error first)
        ``subgroup``, ``n``, ``error`` (mean error rate in it), ``error_rest``, ``excess``
        (the difference), ``p_value``, ``q_value``, ``flagged`` (``q_value <= alpha`` with
        a positive excess).

    Raises
    ------
    StrataError
        When lengths differ, or fewer than two subgroups remain.
    """
    e = np.asarray(errors, dtype=float)
    if e.ndim == 2:
        with warnings.catch_warnings():  # a stimulus without any cell: NaN, dropped below
            warnings.simplefilter("ignore", RuntimeWarning)
            e = np.nanmean(e, axis=1)
    labels = pd.Series(list(subgroup), dtype=object)
    strata_in = pd.Series(list(classes) if classes is not None else [0] * len(e), dtype=object)
    if not (len(e) == len(labels) == len(strata_in)):
        raise StrataError(
            f"errors ({len(e)}), subgroups ({len(labels)}) and classes ({len(strata_in)}) "
            "must have one value per stimulus"
        )
    keep = np.isfinite(e) & labels.notna().to_numpy() & strata_in.notna().to_numpy()
    e, labels, strata_in = e[keep], labels[keep], strata_in[keep]
    codes, names = pd.factorize(labels.astype(str))
    if len(names) < 2:
        raise StrataError("error analysis needs at least two subgroups with predictions")
    strata = pd.factorize(strata_in.astype(str))[0]
    n, G = len(e), len(names)
    size = np.bincount(codes, minlength=G).astype(float)
    total = e.sum()

    def excess(sums: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return sums / size - (total - sums) / (n - size)

    observed = excess(np.bincount(codes, weights=e, minlength=G))
    rng = np.random.default_rng(seed)
    shuffled = _shuffled_codes(codes, strata, n_shuffles, rng)
    flat = (shuffled + G * np.arange(n_shuffles)[:, None]).ravel()
    sums = np.bincount(flat, weights=np.tile(e, n_shuffles), minlength=G * n_shuffles)
    null = excess(sums.reshape(n_shuffles, G))
    # a tolerance for ties of floating sums (a shuffle equal to the data counts as extreme)
    extreme = (null >= observed - 1e-12).sum(axis=0)
    p = (1 + extreme) / (1 + n_shuffles)
    p = np.where(size < n, p, np.nan)  # a subgroup that is the whole set has no rest
    q = np.full(G, np.nan)
    valid = np.isfinite(p)
    if valid.any():
        q[valid] = false_discovery_control(p[valid])
    with np.errstate(invalid="ignore", divide="ignore"):
        rest = (total - np.bincount(codes, weights=e, minlength=G)) / (n - size)
    out = pd.DataFrame(
        {
            "subgroup": list(names),
            "n": size.astype(int),
            "error": np.bincount(codes, weights=e, minlength=G) / size,
            "error_rest": rest,
            "excess": observed,
            "p_value": p,
            "q_value": q,
        }
    )
    out["flagged"] = (out["q_value"] <= alpha) & (out["excess"] > 0)
    return out.sort_values(["excess", "subgroup"], ascending=[False, True], ignore_index=True)
