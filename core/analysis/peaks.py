"""Peaks of a layer curve, and whether it peaks twice with a real valley between.

Peaks are ``scipy.signal.find_peaks`` on a lightly smoothed curve (a Gaussian of ``smooth``
layers), with a minimum prominence of ``se_factor`` times the curve's median fold SE (or a
user's value, if larger), so fold noise alone rarely makes a peak.  The curve is padded
below its minimum at both ends, so a maximum at the first or last layer counts as a peak.

A double peak is claimed only when the two most prominent peaks stand above chance and the
dip between them, ``min(peak₁, peak₂) - valley`` on the smoothed curve, is larger than a
single-peaked curve with the same noise would give.  The null is the best unimodal fit to
the curve (isotonic up to a mode, down after it) plus fresh Gaussian noise of the fold SE
at every layer; the whole procedure (smoothing, peak finding, choosing peaks and valley)
runs on each simulated curve, so picking the layers where the dip looks largest is paid
for (a t-test on the chosen layers would not be: it claims double peaks on one flat noisy
curve in eight).  The dip's interval over folds is reported too, as a description.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks
from sklearn.isotonic import IsotonicRegression

from core.analysis.depth import relative_depth


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return gaussian_filter1d(values, sigma, mode="nearest") if sigma > 0 else values


def _threshold(curve: pd.DataFrame, se_factor: float, min_prominence: float | None) -> float:
    se = curve["score_se"].to_numpy(dtype=float) if "score_se" in curve else np.array([0.0])
    noise = se_factor * float(np.nanmedian(se)) if np.isfinite(se).any() else 0.0
    return max(noise, min_prominence or 0.0, 1e-12)


def find_curve_peaks(
    curve: pd.DataFrame,
    *,
    smooth: float = 1.0,
    se_factor: float = 2.0,
    min_prominence: float | None = None,
) -> pd.DataFrame:
    """Peaks of one curve, most prominent first.

    Parameters
    ----------
    curve : DataFrame
        One curve: ``layer``, ``score``, ``score_se``, ``n_layers`` (one row per layer).
    smooth : float, default=1.0
        Gaussian smoothing width in layers (0: none).
    se_factor : float, default=2.0
        Minimum prominence in units of the median fold SE.
    min_prominence : float, optional
        A floor for the prominence in score units (the user setting).

    Returns
    -------
    DataFrame
        ``layer``, ``relative_depth``, ``score`` (raw), ``smoothed``, ``prominence``,
        ``band_lo``/``band_hi`` (layers of the peak's half-prominence width).
    """
    columns = ["layer", "relative_depth", "score", "smoothed", "prominence", "band_lo", "band_hi"]
    curve = curve.sort_values("layer")
    score = curve["score"].to_numpy(dtype=float)
    if len(score) < 3 or not np.isfinite(score).all():
        return pd.DataFrame(columns=columns)
    layers = curve["layer"].to_numpy()
    n_layers = int(curve["n_layers"].iloc[0]) if "n_layers" in curve else len(layers)
    smoothed = _smooth(score, smooth)
    floor = smoothed.min()  # a maximum at an end counts, with its real prominence
    padded = np.concatenate([[floor], smoothed, [floor]])
    threshold = _threshold(curve, se_factor, min_prominence)
    found, props = find_peaks(padded, prominence=threshold, width=0, rel_height=0.5)
    idx = found - 1
    out = pd.DataFrame(
        {
            "layer": layers[idx],
            "relative_depth": relative_depth(layers[idx], n_layers),
            "score": score[idx],
            "smoothed": smoothed[idx],
            "prominence": props["prominences"],
            "band_lo": np.clip(np.floor(props["left_ips"] - 1), 0, len(layers) - 1).astype(int),
            "band_hi": np.clip(np.ceil(props["right_ips"] - 1), 0, len(layers) - 1).astype(int),
        }
    )
    out["band_lo"] = layers[out["band_lo"]]
    out["band_hi"] = layers[out["band_hi"]]
    return out.sort_values("prominence", ascending=False).reset_index(drop=True)[columns]


def unimodal_fit(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares single-peaked curve: isotonic up to the best mode, antitonic after."""
    values = np.asarray(values, dtype=float)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, dtype=float)
    x = np.arange(len(values))
    best, best_sse = values, np.inf
    for mode in range(len(values)):
        fit = np.empty_like(values)
        fit[: mode + 1] = IsotonicRegression(increasing=True).fit_transform(
            x[: mode + 1], values[: mode + 1], sample_weight=weights[: mode + 1]
        )
        fit[mode:] = IsotonicRegression(increasing=False).fit_transform(
            x[mode:], values[mode:], sample_weight=weights[mode:]
        )
        sse = float((weights * (values - fit) ** 2).sum())
        if sse < best_sse:
            best, best_sse = fit, sse
    return best


def _dip(curve: pd.DataFrame, smooth: float, se_factor: float, min_prominence) -> tuple:
    """The two most prominent peaks, the valley between and the smoothed dip (0 if < 2)."""
    peaks = find_curve_peaks(
        curve, smooth=smooth, se_factor=se_factor, min_prominence=min_prominence
    )
    if len(peaks) < 2:
        return peaks, None, 0.0
    layers = curve["layer"].to_numpy()
    smoothed = _smooth(curve["score"].to_numpy(dtype=float), smooth)
    p1, p2 = sorted(int(x) for x in peaks["layer"].iloc[:2])
    i1, i2 = int(np.flatnonzero(layers == p1)[0]), int(np.flatnonzero(layers == p2)[0])
    iv = i1 + int(np.argmin(smoothed[i1 : i2 + 1]))
    return peaks, (i1, i2, iv), float(min(smoothed[i1], smoothed[i2]) - smoothed[iv])


def double_peak(
    curve: pd.DataFrame,
    folds: pd.DataFrame,
    *,
    smooth: float = 1.0,
    se_factor: float = 2.0,
    min_prominence: float | None = None,
    alpha: float = 0.05,
    n_sim: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Is there a double peak with a valley between, beyond the fold noise?

    Parameters
    ----------
    curve : DataFrame
        One curve's ``probe_scores`` rows.
    folds : DataFrame
        The same curve's ``fold_scores`` rows (``fold``, ``layer``, ``score``).

    Returns
    -------
    DataFrame
        One row: ``verdict`` ("double peak", "single peak", "no peak" or "two peaks, dip
        within noise"), ``n_peaks``, ``peak1_layer``/``peak2_layer``/``valley_layer`` and
        their relative depths, ``dip`` (smoothed mean-curve dip), ``dip_lo``/``dip_hi``
        (95 % interval over folds, descriptive), ``p_value`` (share of ``n_sim`` curves
        simulated from the best single-peaked fit plus fold noise whose dip is at least as
        large, the whole procedure rerun on each) and ``double_peak`` (bool).
    """
    nan = float("nan")
    row = {
        "verdict": "no peak",
        "n_peaks": 0,
        "peak1_layer": nan,
        "peak2_layer": nan,
        "valley_layer": nan,
        "peak1_depth": nan,
        "peak2_depth": nan,
        "valley_depth": nan,
        "dip": nan,
        "dip_lo": nan,
        "dip_hi": nan,
        "p_value": nan,
        "double_peak": False,
    }
    peaks = find_curve_peaks(
        curve, smooth=smooth, se_factor=se_factor, min_prominence=min_prominence
    )
    curve = curve.sort_values("layer")
    if "chance" in curve and len(peaks):
        se = curve.set_index("layer")["score_se"].fillna(0)
        chance = float(curve["chance"].iloc[0])
        peaks = peaks[peaks["score"] - chance > 2 * se.loc[peaks["layer"]].to_numpy()]
    row["n_peaks"] = len(peaks)
    if len(peaks) == 0:
        return pd.DataFrame([row])
    if len(peaks) == 1:
        row.update(
            verdict="single peak",
            peak1_layer=int(peaks["layer"].iloc[0]),
            peak1_depth=float(peaks["relative_depth"].iloc[0]),
        )
        return pd.DataFrame([row])
    n_layers = int(curve["n_layers"].iloc[0]) if "n_layers" in curve else len(curve)
    _, (i1, i2, iv), dip = _dip(curve, smooth, se_factor, min_prominence)
    layers = curve["layer"].to_numpy()
    p1, p2, valley = int(layers[i1]), int(layers[i2]), int(layers[iv])
    table = folds.pivot_table(index="fold", columns="layer", values="score").reindex(columns=layers)
    per_fold = np.array([_smooth(f, smooth) for f in table.to_numpy(dtype=float)])
    dips = np.minimum(per_fold[:, i1], per_fold[:, i2]) - per_fold[:, iv]
    dips = dips[np.isfinite(dips)]
    row.update(
        peak1_layer=p1,
        peak2_layer=p2,
        valley_layer=valley,
        peak1_depth=float(relative_depth(p1, n_layers)),
        peak2_depth=float(relative_depth(p2, n_layers)),
        valley_depth=float(relative_depth(valley, n_layers)),
        dip=dip,
    )
    if len(dips) >= 2:
        mean, sd = float(np.mean(dips)), float(np.std(dips, ddof=1))
        half = stats.t.ppf(0.975, len(dips) - 1) * sd / np.sqrt(len(dips))
        row.update(dip_lo=mean - half, dip_hi=mean + half)
    se = np.maximum(curve["score_se"].fillna(0).to_numpy(dtype=float), 1e-12)
    null = unimodal_fit(curve["score"].to_numpy(dtype=float), 1.0 / se**2)
    rng = np.random.default_rng(seed)
    sim = curve.copy()
    exceed = 0
    for _ in range(n_sim):
        sim["score"] = null + rng.normal(0.0, se)
        exceed += _dip(sim, smooth, se_factor, min_prominence)[2] >= dip
    row["p_value"] = (1 + exceed) / (1 + n_sim)
    significant = bool(row["p_value"] < alpha and dip > 0)
    row["double_peak"] = significant
    row["verdict"] = "double peak" if significant else "two peaks, dip within noise"
    return pd.DataFrame([row])
