"""From fold and null scores to the ``probe_scores`` rows: mean, SE, chance, null band, p."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.probe.grid import ProbeResults
from core.probe.metrics import CLASSIFICATION, PRIMARY

KEYS = ["target", "component", "layer", "metric"]
NULL_COLUMNS = ("null_mean", "null_sd", "null_lo", "null_hi", "p_value")


def _null_stats(null: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Per cell: null mean, SD, 2.5/97.5 percentiles, draws and the permutation p-value.

    ``p = (1 + #{null ≥ score}) / (1 + n_null)`` from that cell's own permutations
    (Phipson & Smyth 2010: never 0, exact for a permutation test).
    """
    merged = null.merge(scores[[*KEYS, "score"]].rename(columns={"score": "real"}), on=KEYS)
    merged = merged[merged["score"].notna()]
    merged["exceeds"] = merged["score"] >= merged["real"] - 1e-12  # ties count as exceeding
    stats = (
        merged.groupby(KEYS, sort=False)
        .agg(
            null_mean=("score", "mean"),
            null_sd=("score", "std"),
            null_lo=("score", lambda s: s.quantile(0.025)),
            null_hi=("score", lambda s: s.quantile(0.975)),
            n_null=("score", "count"),
            n_exceed=("exceeds", "sum"),
        )
        .reset_index()
    )
    stats["p_value"] = (1 + stats.pop("n_exceed")) / (1 + stats["n_null"])
    return stats


def summarize(results: ProbeResults, *, n_layers: int) -> pd.DataFrame:
    """One row per target × component × layer × metric.

    ``score`` is the mean over folds and ``score_se`` its standard error (fold SD / √k).
    For each probe's primary metric, the null columns (mean, SD, 2.5 and 97.5 percentiles,
    ``n_null`` draws) and the p-value come from that cell's own permutations: nothing is
    pooled across layers, whose null distributions may differ.

    Parameters
    ----------
    results : ProbeResults
    n_layers : int

    Returns
    -------
    DataFrame
        Columns of ``probe_scores`` except the result key and ``run_id``.
    """
    folds = results.fold_scores
    grouped = folds.groupby(KEYS, sort=False)["score"]
    out = grouped.agg(
        score="mean",
        score_se=lambda s: (
            s.std(ddof=1) / np.sqrt(s.notna().sum()) if s.notna().sum() > 1 else np.nan
        ),
        n_folds="count",
    ).reset_index()
    targets = results.targets.set_index("target")
    out["probe"] = out["target"].map(targets["probe"])
    out["n_layers"] = n_layers
    out["is_primary"] = out["metric"] == out["probe"].map(PRIMARY)

    def chance(row) -> float:
        if row.metric in CLASSIFICATION:
            return float(targets.loc[row.target, f"chance_{row.metric}"])
        return 0.0

    out["chance"] = [chance(r) for r in out.itertuples()]
    null = results.null_scores
    if len(null):
        out = out.merge(_null_stats(null, out), on=KEYS, how="left")
        out["n_null"] = out["n_null"].fillna(0).astype(int)
        out.loc[out["score"].isna(), "p_value"] = np.nan
    else:
        for column in NULL_COLUMNS:
            out[column] = np.nan
        out["n_null"] = 0
    out["n_perm"] = results.settings.permutations
    return out
