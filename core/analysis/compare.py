"""Comparisons on relative depth: two models' peaks, and the order of experiments.

Both ask where a mean curve peaks (:func:`~core.analysis.summary.peak_index`, the one peak
definition) and how sure that is.  The uncertainty comes from resampling *stimuli*: a
bootstrap over CV groups of the per-stimulus held-out predictions (``item_predictions``,
:mod:`core.analysis.resample`).  Results without predictions (imported from an older
database) fall back to resampling the 6 folds' scores, labelled as weaker: six folds give a
coarse, narrow bootstrap.  Resampling targets, as an earlier version did, is not used: sets
with one to three targets then give "100 % of resamples" for any difference.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.analysis import resample
from core.analysis.depth import relative_depth
from core.analysis.summary import mean_curve, normalized, peak_index, property_targets
from core.analysis.threads import one_blas_thread
from core.names import HIERARCHY

STIMULUS_BOOTSTRAP = "stimulus bootstrap"
FOLD_BOOTSTRAP = "fold bootstrap (weaker)"
NO_RESAMPLING = "no resampling data"


def _fold_curves(folds: pd.DataFrame, scores: pd.DataFrame, targets: list[str]) -> np.ndarray:
    """Normalised fold scores as (n_folds, n_targets, n_layers), chance from ``scores``."""
    if "is_primary" in scores.columns:
        scores = scores[scores["is_primary"].astype(bool)]
    primary = scores.drop_duplicates("target").set_index("target")
    frame = folds[folds["target"].isin(targets)]
    if "metric" in frame.columns and "metric" in primary.columns:
        frame = frame[frame["metric"].to_numpy() == frame["target"].map(primary["metric"])]
    frame = frame.assign(chance=frame["target"].map(primary["chance"]).fillna(0.0))
    frame = frame.assign(value=normalized(frame))
    cube = frame.pivot_table(index=["fold", "target"], columns="layer", values="value")
    n_folds = frame["fold"].nunique()
    return cube.to_numpy().reshape(n_folds, -1, cube.shape[1])


def _fold_boot(cube: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Mean curves (n_boot, n_layers) over folds drawn with replacement."""
    picks = rng.integers(0, cube.shape[0], size=(n_boot, cube.shape[0]))
    with np.errstate(invalid="ignore"):
        return np.nanmean(cube[picks], axis=(1, 2))


def _interval(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return np.nan, np.nan
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return float(lo), float(hi)


@one_blas_thread
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

    Each model's curve is the mean normalised score over its property targets (one
    stimulus set and component; primary metrics) and its peak is
    :func:`~core.analysis.summary.peak_index`.  Folds are resampled with replacement,
    independently per model, for intervals (a fold bootstrap: descriptive, see
    :func:`hierarchy` for the stimulus bootstrap).

    Parameters
    ----------
    scores_a, scores_b : DataFrame
        ``probe_scores`` rows of each model (n_targets × n_layers rows).
    folds_a, folds_b : DataFrame
        The matching ``fold_scores`` rows.
    n_boot : int
    seed : int

    Returns
    -------
    DataFrame
        One row: ``peak_depth_a``/``_b`` with ``_lo``/``_hi``, ``shift`` (b - a),
        ``shift_lo``/``shift_hi`` (95 %), ``p_same`` (two-sided bootstrap share of shifts on
        the other side of zero, doubled) and ``method``.
    """
    rng = np.random.default_rng(seed)
    out: dict = {}
    boots = {}
    for name, scores, folds in (("a", scores_a, folds_a), ("b", scores_b, folds_b)):
        n_layers = int(scores["n_layers"].iloc[0])
        curve = mean_curve(scores, by=())
        depth = relative_depth(curve["layer"].to_numpy(), n_layers)
        out[f"peak_depth_{name}"] = float(depth[peak_index(curve["score"].to_numpy())])
        targets = property_targets(scores["target"])
        curves = _fold_boot(_fold_curves(folds, scores, targets), n_boot, rng)
        boots[name] = depth[peak_index(curves)]
        out[f"peak_depth_{name}_lo"], out[f"peak_depth_{name}_hi"] = _interval(boots[name])
    shifts = boots["b"] - boots["a"]
    out["shift"] = out["peak_depth_b"] - out["peak_depth_a"]
    out["shift_lo"], out["shift_hi"] = _interval(shifts)
    side = np.mean(shifts <= 0) if out["shift"] > 0 else np.mean(shifts >= 0)
    out["p_same"] = float(min(1.0, 2 * side))
    out["method"] = FOLD_BOOTSTRAP
    return pd.DataFrame([out])


def _expected(curve: np.ndarray, depth: np.ndarray) -> float:
    above = np.clip(np.nan_to_num(curve), 0, None)
    total = above.sum()
    return float((depth * above).sum() / total) if total > 0 else np.nan


def _set_boot(
    name: str,
    part: pd.DataFrame,
    targets: list[str],
    sources: dict,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray | None, str, int]:
    """Bootstrap mean curves (n_boot, n_layers) of one set, the method, and what was resampled."""
    predictions, groups, folds, kinds = (
        sources.get(k) for k in ("predictions", "groups", "folds", "kinds")
    )
    if predictions is not None and groups is not None and not predictions.empty:
        rows = predictions[predictions["stimulus_set"] == name]
        group_of = groups[groups["stimulus_set"] == name].drop_duplicates("item_id")
        if not rows.empty and not group_of.empty:
            data = resample.set_predictions(
                rows, group_of.set_index("item_id")["group"], targets=targets, kinds=kinds
            )
            if data.sums:
                weights = resample.group_weights(data.n_groups, n_boot, rng)
                return resample.mean_curves(data, weights), STIMULUS_BOOTSTRAP, data.n_groups
    if folds is not None and not folds.empty:
        rows = folds[folds["stimulus_set"] == name]
        if not rows.empty:
            cube = _fold_curves(rows, part, targets)
            return _fold_boot(cube, n_boot, rng), FOLD_BOOTSTRAP, cube.shape[0]
    return None, NO_RESAMPLING, 0


def order_test(boot_a: np.ndarray, boot_b: np.ndarray, *, alpha: float = 0.05) -> dict:
    """Does a peak before b?  The bootstrap interval of the peak-depth difference decides.

    Parameters
    ----------
    boot_a, boot_b : arrays of shape (n_boot,)
        Bootstrap peak depths of two curves (independent or paired resamples).
    alpha : float, default=0.05

    Returns
    -------
    dict
        ``shift_lo``/``shift_hi`` (central 1 - α interval of b - a), ``p_before`` (share of
        resamples with a strictly before b), ``p_tie`` and ``order``: ``"before"`` (the
        interval is above 0), ``"after"`` (below 0) or ``"not determined"``.
    """
    diff = np.asarray(boot_b, dtype=float) - np.asarray(boot_a, dtype=float)
    lo, hi = np.percentile(diff, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    order = "before" if lo > 0 else "after" if hi < 0 else "not determined"
    return {
        "shift_lo": float(lo),
        "shift_hi": float(hi),
        "p_before": float(np.mean(diff > 0)),
        "p_tie": float(np.mean(diff == 0)),
        "order": order,
    }


def _pair_rows(sets: list[str], point: dict, boot: dict, methods: dict, alpha: float) -> list[dict]:
    """Every pair of sets (earlier in ``sets`` first): the shift and its verdict."""
    rows = []
    for a, b in itertools.combinations(sets, 2):
        row = {"set_a": a, "set_b": b, "shift": point[b] - point[a]}
        if boot[a] is None or boot[b] is None:
            row.update(shift_lo=np.nan, shift_hi=np.nan, p_before=np.nan, p_tie=np.nan)
            row.update(verdict="not determined (no resampling data)", method=NO_RESAMPLING)
            rows.append(row)
            continue
        test = order_test(boot[a], boot[b], alpha=alpha)
        words = {
            "before": f"{a} peaks before {b}",
            "after": f"{b} peaks before {a}",
            "not determined": "not determined",
        }
        row.update({k: v for k, v in test.items() if k != "order"}, verdict=words[test["order"]])
        row["method"] = FOLD_BOOTSTRAP if FOLD_BOOTSTRAP in (methods[a], methods[b]) else methods[a]
        rows.append(row)
    return rows


@one_blas_thread
def hierarchy(
    scores: pd.DataFrame,
    *,
    predictions: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
    folds: pd.DataFrame | None = None,
    targets: Mapping[str, list[str]] | None = None,
    kinds: Mapping[str, str] | None = None,
    order: tuple[str, ...] = HIERARCHY,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Where each set's mean curve peaks, and which sets peak before which, with intervals.

    For one model, pooling and component: each set's mean curve over its property targets
    (controls never enter, :func:`~core.analysis.summary.property_targets`) peaks at
    :func:`~core.analysis.summary.peak_index`, in relative depth.  Stimulus groups are
    resampled with replacement, independently per set (different stimuli), each layer's
    score recomputed from the held-out predictions of the drawn stimuli, and the peak found
    again; the 95 % interval of each pair's peak-depth difference decides: above zero, the
    first set peaks before the second; below zero, after; straddling zero, "not determined".
    Calibration (``tests/analysis/test_calibration.py``): sets with the same true peak get an
    order claimed in at most α of simulations.

    Parameters
    ----------
    scores : DataFrame
        Primary-metric ``probe_scores`` rows of one model × pooling × component, several
        stimulus sets (the point estimates come from these, as in the peaks table).
    predictions : DataFrame, optional
        The matching ``item_predictions`` rows (``stimulus_set``, ``target``, ``layer``,
        ``item_id``, ``y_true``, ``y_pred``).
    groups : DataFrame, optional
        ``stimulus_set``, ``item_id`` and ``group`` (the ``folds`` table).
    folds : DataFrame, optional
        The matching ``fold_scores`` rows: the weaker fallback when predictions are absent.
    targets : mapping, optional
        ``stimulus_set`` → the targets to average, explicitly (default: no controls).
    kinds : mapping, optional
        ``target`` → kind (the ``targets`` table), else inferred from the labels.
    order : tuple of str
        The sets to compare, shallowest expected first.
    n_boot : int
    alpha : float, default=0.05
        The interval is the central 1 - α of the bootstrap differences.
    seed : int

    Returns
    -------
    dict of DataFrame
        ``"sets"``: one row per set of ``order`` in ``scores``: ``stimulus_set``,
        ``n_targets``, ``n_resampled`` (groups, or folds in the fallback), ``peak_layer``,
        ``peak_depth``, ``peak_lo``/``peak_hi`` (95 % bootstrap interval),
        ``expected_depth`` (centre of mass above chance: a description, never a verdict:
        curves high everywhere put it near 0.5 whatever their shape) and ``method``.
        ``"pairs"``: one row per pair (``set_a`` earlier in ``order``): ``shift`` (peak
        depth of b minus a), ``shift_lo``/``shift_hi``, ``p_before`` (share of resamples
        where a peaks strictly before b), ``p_tie``, ``verdict`` and ``method``.
    """
    rng = np.random.default_rng(seed)
    scores = scores[scores["is_primary"].astype(bool)] if "is_primary" in scores else scores
    sets = [s for s in order if s in set(scores["stimulus_set"])]
    sources = {"predictions": predictions, "groups": groups, "folds": folds, "kinds": kinds}
    point, boot, methods, rows = {}, {}, {}, []
    for name in sets:
        part = scores[scores["stimulus_set"] == name]
        chosen = list((targets or {}).get(name) or property_targets(part["target"]))
        curve = mean_curve(part, by=(), targets=chosen)
        layers = curve["layer"].to_numpy()
        depth = relative_depth(layers, int(part["n_layers"].iloc[0]))
        peak = peak_index(curve["score"].to_numpy())
        point[name] = float(depth[peak])
        curves, methods[name], n_resampled = _set_boot(name, part, chosen, sources, n_boot, rng)
        boot[name] = None if curves is None else depth[peak_index(curves)]
        lo, hi = _interval(boot[name]) if curves is not None else (np.nan, np.nan)
        rows.append(
            {
                "stimulus_set": name,
                "n_targets": len(chosen),
                "n_resampled": n_resampled,
                "peak_layer": int(layers[peak]),
                "peak_depth": point[name],
                "peak_lo": lo,
                "peak_hi": hi,
                "expected_depth": _expected(curve["score"].to_numpy(), depth),
                "method": methods[name],
            }
        )
    return {
        "sets": pd.DataFrame(rows),
        "pairs": pd.DataFrame(
            _pair_rows(sets, point, boot, methods, alpha),
            columns=[
                "set_a",
                "set_b",
                "shift",
                "shift_lo",
                "shift_hi",
                "p_before",
                "p_tie",
                "verdict",
                "method",
            ],
        ),
    }


def order_verdict(pairs: pd.DataFrame, order: tuple[str, ...] = HIERARCHY) -> str:
    """Whether the whole order holds: every adjacent pair's interval above zero.

    Parameters
    ----------
    pairs : DataFrame
        :func:`hierarchy` ``"pairs"`` rows of one model × component.
    order : tuple of str

    Returns
    -------
    str
        ``"holds"``, ``"does not hold"`` (some adjacent pair is reversed beyond the noise)
        or ``"not determined"``.
    """
    present = [s for s in order if s in set(pairs["set_a"]) | set(pairs["set_b"])]
    adjacent = list(itertools.pairwise(present))
    said = {(r.set_a, r.set_b): r.verdict for r in pairs.itertuples()}
    verdicts = [said.get(pair, "not determined") for pair in adjacent]
    if adjacent and all(v == f"{a} peaks before {b}" for v, (a, b) in zip(verdicts, adjacent)):
        return "holds"
    if any(v == f"{b} peaks before {a}" for v, (a, b) in zip(verdicts, adjacent)):
        return "does not hold"
    return "not determined"
