"""Comparisons on relative depth: two models' peaks, and the order of experiments."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from core.analysis.depth import relative_depth
from core.analysis.summary import normalized
from core.names import HIERARCHY


def _fold_curves(folds: pd.DataFrame, scores: pd.DataFrame) -> np.ndarray:
    """Normalised fold scores as (fold, target, layer), chance taken from ``scores``."""
    chance = scores.drop_duplicates("target").set_index("target")["chance"].fillna(0.0)
    frame = folds.assign(chance=folds["target"].map(chance))
    frame["value"] = normalized(frame)
    cube = frame.pivot_table(index=["fold", "target"], columns="layer", values="value")
    n_folds = frame["fold"].nunique()
    return cube.to_numpy().reshape(n_folds, -1, cube.shape[1])


def peak_shift(
    scores_a: pd.DataFrame,
    folds_a: pd.DataFrame,
    scores_b: pd.DataFrame,
    folds_b: pd.DataFrame,
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Where the mean curve peaks in each model, on relative depth, and the difference.

    Each model's curve is the mean normalised score over the targets (one stimulus set and
    component; primary metrics).  Folds are resampled with replacement, independently per
    model, to give intervals for both peak depths and for their difference (B minus A).

    Returns
    -------
    DataFrame
        One row: ``peak_depth_a``/``_b`` with ``_lo``/``_hi``, ``shift`` (b - a),
        ``shift_lo``/``shift_hi`` (95 %), and ``p_same`` (two-sided bootstrap share of
        shifts on the other side of zero, doubled).
    """
    rng = np.random.default_rng(seed)
    out = {}
    boots = {}
    for name, scores, folds in (("a", scores_a, folds_a), ("b", scores_b, folds_b)):
        n_layers = int(scores["n_layers"].iloc[0])
        cube = _fold_curves(folds, scores)
        depth = relative_depth(np.arange(cube.shape[2]), n_layers)
        mean = np.nanmean(cube, axis=(0, 1))
        out[f"peak_depth_{name}"] = float(depth[np.nanargmax(mean)])
        picks = rng.integers(0, cube.shape[0], size=(n_boot, cube.shape[0]))
        curves = np.nanmean(cube[picks], axis=(1, 2))  # (boot, layer)
        boots[name] = depth[np.nanargmax(curves, axis=1)]
        lo, hi = np.percentile(boots[name], [2.5, 97.5])
        out[f"peak_depth_{name}_lo"], out[f"peak_depth_{name}_hi"] = float(lo), float(hi)
    shifts = boots["b"] - boots["a"]
    out["shift"] = out["peak_depth_b"] - out["peak_depth_a"]
    out["shift_lo"], out["shift_hi"] = (float(x) for x in np.percentile(shifts, [2.5, 97.5]))
    side = np.mean(shifts <= 0) if out["shift"] > 0 else np.mean(shifts >= 0)
    out["p_same"] = float(min(1.0, 2 * side))
    return pd.DataFrame([out])


def _expected(curve: np.ndarray, depth: np.ndarray) -> float:
    total = curve.sum()
    return float((depth * curve).sum() / total) if total > 0 else np.nan


def hierarchy(
    scores: pd.DataFrame,
    *,
    order: tuple[str, ...] = HIERARCHY,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """The expected depth of each experiment's mean curve, and whether they are ordered.

    For one model and component: the mean normalised curve of each stimulus set gives an
    expected layer (centre of mass above chance), in relative depth.  Targets are
    resampled with replacement within each set to give intervals and the probability that
    ``order`` holds (the paper's hierarchy: items < pairs < analogies).

    Returns
    -------
    DataFrame
        One row per set in ``order`` present in ``scores``: ``stimulus_set``,
        ``expected_depth`` with ``lo``/``hi``, ``peak_depth`` (where the mean curve peaks)
        with ``peak_lo``/``peak_hi``, ``n_targets``; and ``p_order``/``holds`` (bootstrap
        probability and point estimate of the ordering by expected depth) and
        ``p_order_peak``/``holds_peak`` (the same by peak depth), equal on every row.
        Curves that are high everywhere put every expected depth near 0.5; the peak then
        says more.
    """
    rng = np.random.default_rng(seed)
    sets = [s for s in order if s in set(scores["stimulus_set"])]
    point, boot, counts = {}, {}, {}
    peak, peak_boot = {}, {}
    for name in sets:
        part = scores[scores["stimulus_set"] == name]
        if "is_primary" in part:
            part = part[part["is_primary"].astype(bool)]
        part = part.assign(value=normalized(part))
        table = part.pivot_table(index="target", columns="layer", values="value")
        n_layers = int(part["n_layers"].iloc[0])
        depth = relative_depth(table.columns.to_numpy(), n_layers)
        values = np.clip(table.to_numpy(dtype=float), 0, None)

        point[name] = _expected(np.nanmean(values, axis=0), depth)
        peak[name] = float(depth[np.nanargmax(np.nanmean(values, axis=0))])
        picks = rng.integers(0, len(values), size=(n_boot, len(values)))
        means = np.array([np.nanmean(values[p], axis=0) for p in picks])
        boot[name] = np.array([_expected(m, depth) for m in means])
        peak_boot[name] = depth[np.nanargmax(means, axis=1)]
        counts[name] = len(values)
    holds_boot = np.ones(n_boot, dtype=bool)
    peak_holds_boot = np.ones(n_boot, dtype=bool)
    for earlier, later in itertools.pairwise(sets):
        holds_boot &= boot[earlier] < boot[later]
        peak_holds_boot &= peak_boot[earlier] < peak_boot[later]
    holds = all(point[a] < point[b] for a, b in itertools.pairwise(sets))
    peak_holds = all(peak[a] < peak[b] for a, b in itertools.pairwise(sets))
    rows = []
    for name in sets:
        lo, hi = np.nanpercentile(boot[name], [2.5, 97.5])
        peak_lo, peak_hi = np.nanpercentile(peak_boot[name], [2.5, 97.5])
        rows.append(
            {
                "stimulus_set": name,
                "expected_depth": point[name],
                "lo": float(lo),
                "hi": float(hi),
                "peak_depth": peak[name],
                "peak_lo": float(peak_lo),
                "peak_hi": float(peak_hi),
                "n_targets": counts[name],
                "p_order": float(holds_boot.mean()) if len(sets) > 1 else np.nan,
                "holds": holds,
                "p_order_peak": float(peak_holds_boot.mean()) if len(sets) > 1 else np.nan,
                "holds_peak": peak_holds,
            }
        )
    return pd.DataFrame(rows)
