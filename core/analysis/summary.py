"""One-number summaries of a layer curve, the one peak definition, and a set's mean curve.

**The peak** of a curve, everywhere in Strata (Findings, ``report``, the pages, the plots,
the bootstraps), is :func:`peak_index`: the layer where the curve, smoothed by a Gaussian of
:data:`PEAK_SMOOTH` layers, is highest.  The light smoothing keeps one noisy layer from
deciding the peak; it is the same smoothing :func:`~core.analysis.peaks.find_curve_peaks`
applies, so the peak is always the most prominent of the peaks the double-peak test sees
(the global maximum of the smoothed curve has the largest prominence).  The double-peak
section names a *second* peak beside it, never another "peak".

**Controls** (word frequency, length, token count, position) are never averaged into a
property curve: :func:`property_targets` drops them by name (:data:`CONTROL_PATTERNS`),
and :func:`mean_curve` takes the list of targets explicitly when the caller knows better.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from core.analysis.depth import relative_depth
from core.analysis.frames import groups

CURVE_KEYS = ["model", "stimulus_set", "pooling", "target", "component", "metric"]

PEAK_SMOOTH: float = 1.0
"""Gaussian smoothing width (layers) of the one peak definition, :func:`peak_index`."""

CONTROL_PATTERNS: tuple[str, ...] = (
    r"freq",
    r"zipf",
    r"(^|_)length($|_)",
    r"(^|_)len($|_)",
    r"n_?chars?",
    r"n_?tokens?",
    r"token_?count",
    r"(^|_)position($|_)",
)
"""Target names that are surface controls, not properties (``frequency_zipf``, ``length``,
``n_tokens``, ``position``...): matched case-insensitively, anywhere in the name."""


def is_control(target: str) -> bool:
    """Whether a target name is a surface control (:data:`CONTROL_PATTERNS`).

    Parameters
    ----------
    target : str

    Returns
    -------
    bool
    """
    name = str(target).lower()
    return any(re.search(p, name) for p in CONTROL_PATTERNS)


def property_targets(targets: Iterable[str], *, controls: Iterable[str] = ()) -> list[str]:
    """The targets that are properties: ``targets`` without controls, order kept.

    Parameters
    ----------
    targets : iterable of str
        Target names (duplicates are dropped).
    controls : iterable of str, optional
        Further names to treat as controls (e.g. those a ``targets`` table flags), beside
        the ones :data:`CONTROL_PATTERNS` recognises.

    Returns
    -------
    list of str
    """
    extra = set(controls)
    return [t for t in dict.fromkeys(targets) if t not in extra and not is_control(t)]


def smooth_curve(values: np.ndarray, sigma: float = PEAK_SMOOTH) -> np.ndarray:
    """Gaussian smoothing along the last axis (layers), ends held (``mode="nearest"``).

    Parameters
    ----------
    values : array of shape (..., n_layers)
    sigma : float, default=PEAK_SMOOTH
        Width in layers; 0 returns the values unchanged.

    Returns
    -------
    array of shape (..., n_layers)
    """
    values = np.asarray(values, dtype=float)
    return gaussian_filter1d(values, sigma, axis=-1, mode="nearest") if sigma > 0 else values


def peak_index(values: np.ndarray, *, smooth: float = PEAK_SMOOTH) -> np.ndarray:
    """The peak: position of the maximum of the smoothed curve, along the last axis.

    NaN layers are filled from their neighbours (linear interpolation) before smoothing, so
    one missing layer neither wins nor blanks the curve; an all-NaN curve gives -1.

    Parameters
    ----------
    values : array of shape (..., n_layers)
        One curve or a batch of curves (e.g. bootstrap resamples × layers).
    smooth : float, default=PEAK_SMOOTH

    Returns
    -------
    int or array of int of shape (...)
        Index into the layer axis.

    Examples
    --------
    One high layer (7) does not win over a broad maximum (3):

    >>> peak_index([0.5, 0.6, 0.7, 0.72, 0.7, 0.6, 0.5, 0.8, 0.5, 0.5])
    3
    """
    values = np.array(values, dtype=float)
    flat = values.reshape(-1, values.shape[-1])
    out = np.full(len(flat), -1, dtype=int)
    x = np.arange(values.shape[-1])
    finite = np.isfinite(flat)
    for i in np.flatnonzero(~finite.all(axis=1) & finite.any(axis=1)):
        ok = finite[i]
        flat[i] = np.interp(x, x[ok], flat[i, ok])
    usable = finite.any(axis=1)
    if usable.any():
        out[usable] = np.argmax(smooth_curve(flat[usable], smooth), axis=-1)
    return out.reshape(values.shape[:-1]) if values.ndim > 1 else int(out[0])


def _keys(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    return [k for k in keys if k in frame.columns]


def _summarize(curve: pd.DataFrame, smooth: float) -> dict:
    curve = curve.sort_values("layer")
    layers = curve["layer"].to_numpy()
    score = curve["score"].to_numpy(dtype=float)
    se = curve["score_se"].to_numpy(dtype=float) if "score_se" in curve else np.zeros_like(score)
    chance = float(curve["chance"].iloc[0]) if "chance" in curve else 0.0
    n_layers = int(curve["n_layers"].iloc[0]) if "n_layers" in curve else len(layers)
    if not np.isfinite(score).any():
        return {"n_layers": n_layers}
    best = peak_index(score, smooth=smooth)
    smoothed = smooth_curve(np.where(np.isfinite(score), score, np.nanmin(score)), smooth)
    band = layers[smoothed >= smoothed[best] - np.nan_to_num(se[best])]
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


def curve_summary(
    scores: pd.DataFrame, *, keys: list[str] | None = None, smooth: float = PEAK_SMOOTH
) -> pd.DataFrame:
    """Peak, peak band, expected layer and area above chance of every curve.

    Parameters
    ----------
    scores : DataFrame
        ``probe_scores`` rows (``layer``, ``score``, ``score_se``, ``chance``, ``n_layers``),
        one row per curve and layer.
    keys : list of str, optional
        Columns that identify a curve (default :data:`CURVE_KEYS` present in ``scores``).
    smooth : float, default=PEAK_SMOOTH
        Smoothing of the peak definition (:func:`peak_index`).

    Returns
    -------
    DataFrame
        One row per curve: the keys, ``n_layers``, ``peak_layer`` and ``peak_depth``
        (:func:`peak_index`), ``peak_score`` and ``peak_se`` (the measured score and fold
        SE at that layer), ``band_lo``/``band_hi`` (the layers whose smoothed score is
        within one SE of the smoothed peak), ``expected_layer`` and ``expected_depth``
        (centre of mass of the score above chance, as in edge probing: a description, not
        a test; NaN when nothing is above chance), ``area_above_chance`` (mean over layers
        of the score above chance) and ``chance``.
    """
    keys = _keys(scores, keys or CURVE_KEYS)
    rows = [{**row, **_summarize(curve, smooth)} for row, curve in groups(scores, keys)]
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

    Parameters
    ----------
    scores : DataFrame
        ``score`` and ``chance`` columns (n_rows,).

    Returns
    -------
    Series of shape (n_rows,)
    """
    chance = scores["chance"].fillna(0.0)
    return (scores["score"] - chance) / (1.0 - chance).where(chance < 1, 1.0)


def select_properties(scores: pd.DataFrame, targets: Iterable[str] | None = None) -> pd.DataFrame:
    """Primary-metric rows of the property targets: ``targets`` if given, else no controls.

    Parameters
    ----------
    scores : DataFrame
        ``probe_scores`` rows with ``target`` (and optionally ``is_primary``).
    targets : iterable of str, optional
        The targets to keep, explicitly (controls included if named here).

    Returns
    -------
    DataFrame
        The kept rows.
    """
    if "is_primary" in scores.columns:
        scores = scores[scores["is_primary"].astype(bool)]
    keep = list(targets) if targets is not None else property_targets(scores["target"])
    return scores[scores["target"].isin(keep)]


def mean_curve(
    scores: pd.DataFrame,
    *,
    by: tuple[str, ...] = ("model", "stimulus_set", "pooling", "component"),
    targets: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Mean normalised score over a stimulus set's property targets, per layer, with its SE.

    This is the curve that puts items, pairs and analogies on one figure.  Controls never
    enter it: without ``targets``, targets that :func:`is_control` recognises are dropped.

    Parameters
    ----------
    scores : DataFrame
        ``probe_scores`` rows (primary metrics are kept when ``is_primary`` is there).
    by : tuple of str
        Columns that identify one mean curve.
    targets : iterable of str, optional
        The targets to average, explicitly.

    Returns
    -------
    DataFrame
        One row per curve and layer: ``by`` columns, ``layer``, ``n_layers``,
        ``relative_depth``, ``score`` (mean of the normalised scores), ``score_se`` (SD over
        targets / √n), ``n_targets``, ``chance`` (0) and ``metric`` (``"normalized"``).
    """
    scores = select_properties(scores, targets)
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
