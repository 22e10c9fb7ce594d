"""From fold and null scores to the ``probe_scores`` rows: mean, SE, chance, null band, p."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.probe.grid import ProbeResults
from core.probe.metrics import CLASSIFICATION, PRIMARY

KEYS = ["target", "component", "layer", "metric"]


def summarize(results: ProbeResults, *, n_layers: int) -> pd.DataFrame:
    """One row per target × component × layer × metric.

    ``score`` is the mean over folds and ``score_se`` its standard error (fold SD / √k).
    The null columns (mean, SD, 2.5 and 97.5 percentiles) and the permutation p-value,
    ``(1 + #{null ≥ score}) / (1 + n_null)``, are filled for each probe's primary metric.
    The null pools the permutations of every layer of the component where they were fitted
    (``n_null`` draws): permuted labels carry no layer-specific information, and the
    pooled null gives p-values fine enough for a correction across layers.
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
    pooled = ["target", "component", "metric"]
    if len(null):
        stats = (
            null.groupby(pooled, sort=False)["score"]
            .agg(
                null_mean="mean",
                null_sd="std",
                null_lo=lambda s: s.quantile(0.025),
                null_hi=lambda s: s.quantile(0.975),
                n_null="count",
            )
            .reset_index()
        )
        draws = {key: np.sort(g.to_numpy()) for key, g in null.groupby(pooled)["score"]}
        out = out.merge(stats, on=pooled, how="left")

        def p_value(row) -> float:
            values = draws.get((row.target, row.component, row.metric))
            if values is None or np.isnan(row.score):
                return np.nan
            exceed = len(values) - np.searchsorted(values, row.score, side="left")
            return (1 + exceed) / (1 + len(values))

        out["p_value"] = [p_value(r) for r in out.itertuples()]
    else:
        for column in ("null_mean", "null_sd", "null_lo", "null_hi", "p_value"):
            out[column] = np.nan
        out["n_null"] = 0
    out["n_perm"] = results.settings.permutations
    return out
