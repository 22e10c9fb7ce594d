"""From fold and null scores to the ``probe_scores`` rows: mean, SE, chance, null band, p."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.probe.grid import ProbeResults
from core.probe.metrics import PRIMARY

KEYS = ["target", "component", "layer", "metric"]


def summarize(results: ProbeResults, *, n_layers: int) -> pd.DataFrame:
    """One row per target × component × layer × metric.

    ``score`` is the mean over folds and ``score_se`` its standard error (fold SD / √k).
    The null columns (mean, SD, 2.5 and 97.5 percentiles) and the permutation p-value,
    ``(1 + #{null ≥ score}) / (1 + n_perm)``, are filled for each probe's primary metric.
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
        if row.metric in ("balanced_accuracy", "accuracy"):
            return float(targets.loc[row.target, f"chance_{row.metric}"])
        return 0.0

    out["chance"] = [chance(r) for r in out.itertuples()]
    null = results.null_scores
    n_perm = results.settings.n_perm
    if len(null):
        stats = (
            null.groupby(KEYS, sort=False)["score"]
            .agg(
                null_mean="mean",
                null_sd="std",
                null_lo=lambda s: s.quantile(0.025),
                null_hi=lambda s: s.quantile(0.975),
            )
            .reset_index()
        )
        merged = null.merge(out[[*KEYS, "score"]], on=KEYS, suffixes=("", "_real"))
        merged["exceeds"] = merged["score"] >= merged["score_real"]
        counts = merged.groupby(KEYS, sort=False)["exceeds"].sum().rename("n_exceed").reset_index()
        out = out.merge(stats, on=KEYS, how="left").merge(counts, on=KEYS, how="left")
        out["p_value"] = (1 + out["n_exceed"]) / (1 + n_perm)
        out.loc[out["n_exceed"].isna() | out["score"].isna(), "p_value"] = np.nan
        out = out.drop(columns="n_exceed")
    else:
        for column in ("null_mean", "null_sd", "null_lo", "null_hi", "p_value"):
            out[column] = np.nan
    out["n_perm"] = n_perm
    return out
