"""A model's findings in numbers: the paper's questions asked of every stored set at once.

Where does each set's mean curve peak, does it peak twice beyond the noise, do adjacent
layers alternate beyond what noise gives, and does items < pairs < analogies hold?  The
answer is a dict of tidy tables, the same ones the CLI's ``report`` prints and the app
shows, computed from ``probe_scores``, ``fold_scores`` and ``half_scores`` rows alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.analysis.compare import hierarchy
from core.analysis.peaks import double_peak
from core.analysis.persistence import naive_rho, split_half_rho
from core.analysis.summary import curve_summary, mean_curve, normalized
from core.names import COMPONENTS, HIERARCHY, in_set_order

CURVE = ["model", "stimulus_set", "pooling", "component"]


def mean_fold_curve(scores: pd.DataFrame, folds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The mean normalised curve over targets, with the fold noise of that mean.

    :func:`~core.analysis.summary.mean_curve` gives each layer an SE over *targets* (how
    much the mean would move with other targets).  Whether a dip in this one mean curve is
    real is a question about *measurement* noise, so here every fold's scores are
    normalised and averaged over targets first, and the SE is taken over folds.

    Parameters
    ----------
    scores : DataFrame
        Primary-metric ``probe_scores`` rows of one curve family (any number of targets of
        one model, stimulus set, pooling and component), with ``chance``.
    folds : DataFrame
        The matching ``fold_scores`` rows (other metrics are dropped).

    Returns
    -------
    curve : DataFrame
        As :func:`mean_curve`, with ``score_se`` = SD over folds of the fold means / √k.
    fold_curve : DataFrame
        ``fold``, ``layer``, ``score``: the mean normalised score of each fold.
    """
    keys = [k for k in CURVE if k in scores.columns and k in folds.columns]
    primary = scores.drop_duplicates([*keys, "target"])[[*keys, "target", "metric", "chance"]]
    rows = folds.merge(primary, on=[*keys, "target", "metric"], how="inner")
    rows = rows.assign(score=normalized(rows))
    fold_curve = rows.groupby(["fold", "layer"], as_index=False)["score"].mean()
    spread = fold_curve.groupby("layer")["score"].agg(["std", "count"])
    curve = mean_curve(scores, by=tuple(keys))
    se = spread["std"] / np.sqrt(spread["count"])
    curve["score_se"] = curve["layer"].map(se).to_numpy()
    return curve, fold_curve


def findings(
    scores: pd.DataFrame,
    folds: pd.DataFrame,
    halves: pd.DataFrame,
    *,
    order: tuple[str, ...] = HIERARCHY,
    n_sim: int = 200,
    n_boot: int = 1000,
    n_baseline: int = 500,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Every set × component of one model and pooling, summarised.

    Parameters
    ----------
    scores, folds, halves : DataFrame
        Primary-metric ``probe_scores`` rows and the matching ``fold_scores`` and
        ``half_scores`` rows (``halves`` may be empty: runs without half splits).
    order : tuple of str
        The hierarchy to test, shallowest first.

    Returns
    -------
    dict of DataFrame
        ``curves``: per set × component, the mean curve's peak layer and depth, peak band,
        expected depth and area above chance (:func:`curve_summary`) and ``n_targets``;
        ``double_peaks``: :func:`double_peak` on each mean curve against its fold noise;
        ``persistence``: naive and split-half ρ with their noise baselines;
        ``hierarchy``: :func:`hierarchy` per component, when two or more of ``order``
        are present.
    """
    keys = [k for k in CURVE if k in scores.columns]
    curve_rows, peak_rows = [], []
    for key, part in scores.groupby(keys, sort=False):
        head = dict(zip(keys, key))
        part_folds = folds
        for column, value in head.items():
            part_folds = part_folds[part_folds[column] == value]
        curve, fold_curve = mean_fold_curve(part, part_folds)
        summary = curve_summary(curve, keys=keys).assign(n_targets=part["target"].nunique())
        curve_rows.append(summary)
        verdict = double_peak(curve, fold_curve, n_sim=n_sim, seed=seed)
        peak_rows.append(verdict.assign(**head))
    curves = pd.concat(curve_rows, ignore_index=True) if curve_rows else pd.DataFrame()
    peaks = pd.concat(peak_rows, ignore_index=True) if peak_rows else pd.DataFrame()
    if len(peaks):
        peaks = peaks[[*keys, *[c for c in peaks.columns if c not in keys]]]
    persistence = [naive_rho(scores, n_baseline=n_baseline, seed=seed).assign(estimator="naive")]
    if len(halves):
        persistence.append(
            split_half_rho(halves, n_baseline=n_baseline, seed=seed).assign(estimator="split-half")
        )
    rho = pd.concat(persistence, ignore_index=True)
    rho = rho[[*keys, "estimator", *[c for c in rho.columns if c not in (*keys, "estimator")]]]
    ordered = []
    present = set(scores["stimulus_set"]) & set(order)
    if len(present) >= 2:
        for component, part in scores.groupby("component", sort=False):
            ordered.append(
                hierarchy(part, order=order, n_boot=n_boot, seed=seed).assign(component=component)
            )
    return {
        "curves": _in_order(curves, order),
        "double_peaks": _in_order(peaks, order),
        "persistence": _in_order(rho, order, "estimator"),
        "hierarchy": pd.concat(ordered, ignore_index=True) if ordered else pd.DataFrame(),
    }


def _in_order(frame: pd.DataFrame, order: tuple[str, ...], *extra: str) -> pd.DataFrame:
    """Sets shallowest first (then the rest by name), components as extracted."""
    if frame.empty:
        return frame
    sets = [*order, *(s for s in in_set_order(frame["stimulus_set"]) if s not in order)]
    rank = {
        "stimulus_set": lambda c: c.map({s: i for i, s in enumerate(sets)}),
        "component": lambda c: c.map({x: i for i, x in enumerate(COMPONENTS)}).fillna(
            len(COMPONENTS)
        ),
    }
    columns = [c for c in ("stimulus_set", "component", *extra) if c in frame.columns]
    return frame.sort_values(
        columns, key=lambda c: rank[c.name](c) if c.name in rank else c, ignore_index=True
    )
