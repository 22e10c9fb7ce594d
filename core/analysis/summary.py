"""One-number summaries of a layer curve, and the mean curve of a stimulus set."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.analysis.depth import relative_depth

CURVE_KEYS = ["model", "stimulus_set", "pooling", "target", "component", "metric"]


def _keys(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    return [k for k in keys if k in frame.columns]


def _summarize(curve: pd.DataFrame) -> dict:
    curve = curve.sort_values("layer")
    layers = curve["layer"].to_numpy()
    score = curve["score"].to_numpy(dtype=float)
    se = curve["score_se"].to_numpy(dtype=float) if "score_se" in curve else np.zeros_like(score)
    chance = float(curve["chance"].iloc[0]) if "chance" in curve else 0.0
    n_layers = int(curve["n_layers"].iloc[0]) if "n_layers" in curve else len(layers)
    if not np.isfinite(score).any():
        return {"n_layers": n_layers}
    best = int(np.nanargmax(score))
    band = layers[score >= score[best] - np.nan_to_num(se[best])]
    above = np.clip(np.nan_to_num(score - chance), 0, None)
    weight = above.sum()
    expected = float((layers * above).sum() / weight) if weight > 0 else np.nan
    return {
        "n_layers": n_layers,
        "peak_layer": int(layers[best]),
        "peak_depth": float(relative_depth(layers[best], n_layers)),
        "peak_score": float(score[best]),
        "peak_se": float(se[best]),
        "band_lo": int(band.min()),
        "band_hi": int(band.max()),
        "expected_layer": expected,
        "expected_depth": float(relative_depth(expected, n_layers)) if weight > 0 else np.nan,
        "area_above_chance": float(above.mean()),
        "chance": chance,
    }


def curve_summary(scores: pd.DataFrame, *, keys: list[str] | None = None) -> pd.DataFrame:
    """Peak, peak band, expected layer and area above chance of every curve.

    Parameters
    ----------
    scores : DataFrame
        ``probe_scores`` rows (``layer``, ``score``, ``score_se``, ``chance``, ``n_layers``).
    keys : list of str, optional
        Columns that identify a curve (default :data:`CURVE_KEYS` present in ``scores``).

    Returns
    -------
    DataFrame
        One row per curve: the keys, ``n_layers``, ``peak_layer``, ``peak_depth``,
        ``peak_score``, ``peak_se``, ``band_lo``/``band_hi`` (the layers within one SE of the
        maximum), ``expected_layer`` and ``expected_depth`` (centre of mass of the score
        above chance, as in edge probing: NaN when nothing is above chance),
        ``area_above_chance`` (mean over layers of the score above chance) and ``chance``.
    """
    keys = _keys(scores, keys or CURVE_KEYS)
    rows = []
    for key, curve in scores.groupby(keys, sort=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        rows.append({**row, **_summarize(curve)})
    columns = [
        *keys,
        "n_layers",
        "peak_layer",
        "peak_depth",
        "peak_score",
        "peak_se",
        "band_lo",
        "band_hi",
        "expected_layer",
        "expected_depth",
        "area_above_chance",
        "chance",
    ]
    return pd.DataFrame(rows).reindex(columns=columns)


def normalized(scores: pd.DataFrame) -> pd.Series:
    """Score on a common 0 = chance, 1 = perfect scale, so SVM and ridge targets average.

    Balanced accuracy becomes ``(score - chance) / (1 - chance)``; Pearson r is already 0
    at chance and 1 at best.
    """
    chance = scores["chance"].fillna(0.0)
    return (scores["score"] - chance) / (1.0 - chance).where(chance < 1, 1.0)


def mean_curve(
    scores: pd.DataFrame,
    *,
    by: tuple[str, ...] = ("model", "stimulus_set", "pooling", "component"),
) -> pd.DataFrame:
    """Mean normalised score over a stimulus set's targets, per layer, with its SE.

    This is the curve that puts items, pairs and analogies on one figure.  Use primary
    metrics only (one row per target and layer).

    Returns
    -------
    DataFrame
        ``by`` columns, ``layer``, ``n_layers``, ``relative_depth``, ``score`` (mean of the
        normalised scores), ``score_se`` (SD over targets / √n), ``n_targets``, ``chance``
        (0) and ``metric`` (``"normalized"``).
    """
    if "is_primary" in scores.columns:
        scores = scores[scores["is_primary"].astype(bool)]
    keys = [c for c in by if c in scores.columns]
    frame = scores.assign(norm=normalized(scores))
    grouped = frame.groupby([*keys, "layer"], sort=False)
    out = grouped.agg(
        n_layers=("n_layers", "first"),
        score=("norm", "mean"),
        sd=("norm", "std"),
        n_targets=("norm", "count"),
    ).reset_index()
    out["score_se"] = out["sd"] / np.sqrt(out["n_targets"])
    out["relative_depth"] = relative_depth(out["layer"], out["n_layers"])
    out["chance"] = 0.0
    out["metric"] = "normalized"
    return out.drop(columns="sd").sort_values([*keys, "layer"]).reset_index(drop=True)
