"""Peaks of a layer curve, and whether it peaks twice with a real valley between.

Peaks are ``scipy.signal.find_peaks`` on the curve smoothed as the one peak definition
smooths it (:data:`~core.analysis.summary.PEAK_SMOOTH`), with a minimum prominence of
``se_factor`` times the curve's median fold SE (or a user's value, if larger), so fold noise
alone rarely makes a peak.  The curve is padded below its minimum at both ends, so a maximum
at the first or last layer counts as a peak.  The most prominent peak is then always *the*
peak of :func:`~core.analysis.summary.peak_index` (the smoothed maximum has the largest
prominence): the double-peak section names it "the peak" and the other one "the second
peak", the same layer the peaks table gives.

A peak counts only where the curve stands above chance by ``t`` fold SEs, with ``t`` the
Bonferroni bound over the layers of a t distribution with k - 1 degrees of freedom (the SE
comes from k folds: 5.4 SEs for 6 folds and 30 layers): a curve at chance then shows "no
peak" in at least 1 - α of cases, where a fixed 2 SE found a peak somewhere on a third of
flat chance-level curves and a normal bound on one in six.

A double peak is claimed only when the two most prominent peaks stand above chance and the
dip between them, ``min(peak₁, peak₂) - valley`` on the smoothed curve, is larger than a
single-peaked curve with the same noise would give.  The null is any single-peaked curve:
the p-value is the larger of two, under the best unimodal fit to the curve (isotonic up to
a mode, down after it) and under a flat curve (the least favourable single-peaked truth for
a dip, as in Hartigan's dip test: the fit absorbs smooth noise into its one peak), each
plus Gaussian noise of the fold SE at every layer, correlated over layers as the fold
deviations are (:func:`fold_noise`; independent noise there made flat curves "double
peaks" in 10-19 % of simulations).  The whole procedure (smoothing, peak finding, choosing
peaks and valley) runs on each simulated curve, so picking the layers where the dip looks
largest is paid for (a t-test on the chosen layers would not be: it claims double peaks on
one flat noisy curve in eight).  The dip's interval over folds is reported too, as a
description.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.signal import find_peaks
from sklearn.isotonic import IsotonicRegression

from core.analysis.depth import relative_depth
from core.analysis.summary import PEAK_SMOOTH, smooth_curve
from core.analysis.threads import one_blas_thread

PEAK_COLUMNS = ["layer", "relative_depth", "score", "smoothed", "prominence", "band_lo", "band_hi"]
VERDICTS = ("double peak", "single peak", "no peak", "two peaks, dip within noise")


def _threshold(curve: pd.DataFrame, se_factor: float, min_prominence: float | None) -> float:
    se = curve["score_se"].to_numpy(dtype=float) if "score_se" in curve else np.array([0.0])
    noise = se_factor * float(np.nanmedian(se)) if np.isfinite(se).any() else 0.0
    return max(noise, min_prominence or 0.0, 1e-12)


def _peaks_of(smoothed: np.ndarray, threshold: float) -> tuple[np.ndarray, dict]:
    """Peaks of one smoothed curve (n_layers,), padded so an end maximum counts.

    Returns the peak positions (n_peaks,), most prominent first, and ``find_peaks``'s
    properties in the same order (``left_ips``/``right_ips`` shifted back to layer index).
    """
    floor = smoothed.min()
    padded = np.concatenate([[floor], smoothed, [floor]])
    found, props = find_peaks(padded, prominence=threshold, width=0, rel_height=0.5)
    order = np.argsort(-props["prominences"], kind="stable")
    props = {k: np.asarray(v)[order] for k, v in props.items()}
    props["left_ips"] = props["left_ips"] - 1
    props["right_ips"] = props["right_ips"] - 1
    return found[order] - 1, props


def find_curve_peaks(
    curve: pd.DataFrame,
    *,
    smooth: float = PEAK_SMOOTH,
    se_factor: float = 2.0,
    min_prominence: float | None = None,
) -> pd.DataFrame:
    """Peaks of one curve, most prominent first (the first is the curve's peak).

    Parameters
    ----------
    curve : DataFrame
        One curve: ``layer``, ``score``, ``score_se``, ``n_layers`` (one row per layer,
        n_layers rows).
    smooth : float, default=PEAK_SMOOTH
        Gaussian smoothing width in layers (0: none).
    se_factor : float, default=2.0
        Minimum prominence in units of the median fold SE.
    min_prominence : float, optional
        A floor for the prominence in score units (the user setting).

    Returns
    -------
    DataFrame
        One row per peak (n_peaks,): ``layer``, ``relative_depth``, ``score`` (raw),
        ``smoothed``, ``prominence``, ``band_lo``/``band_hi`` (layers of the peak's
        half-prominence width).
    """
    curve = curve.sort_values("layer")
    score = curve["score"].to_numpy(dtype=float)
    if len(score) < 3 or not np.isfinite(score).all():
        return pd.DataFrame(columns=PEAK_COLUMNS)
    layers = curve["layer"].to_numpy()
    n_layers = int(curve["n_layers"].iloc[0]) if "n_layers" in curve else len(layers)
    smoothed = smooth_curve(score, smooth)
    idx, props = _peaks_of(smoothed, _threshold(curve, se_factor, min_prominence))
    last = len(layers) - 1
    return pd.DataFrame(
        {
            "layer": layers[idx],
            "relative_depth": relative_depth(layers[idx], n_layers),
            "score": score[idx],
            "smoothed": smoothed[idx],
            "prominence": props["prominences"],
            "band_lo": layers[np.clip(np.floor(props["left_ips"]), 0, last).astype(int)],
            "band_hi": layers[np.clip(np.ceil(props["right_ips"]), 0, last).astype(int)],
        },
        columns=PEAK_COLUMNS,
    )


def unimodal_fit(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares single-peaked curve: isotonic up to the best mode, antitonic after.

    Parameters
    ----------
    values : array of shape (n_layers,)
    weights : array of shape (n_layers,), optional
        Inverse variances (default: equal).

    Returns
    -------
    array of shape (n_layers,)
    """
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


def _dip_of(smoothed: np.ndarray, threshold: float, keep=None) -> tuple:
    """The peak, the second peak, the valley between (indices) and the smoothed dip.

    ``keep`` (bool per layer) drops peaks at layers that fail a test (below chance).
    Returns ``(main, second, valley, dip)``; with fewer than two peaks the missing indices
    are ``None`` and the dip is 0.
    """
    idx, _ = _peaks_of(smoothed, threshold)
    if keep is not None:
        idx = idx[keep[idx]]
    if len(idx) < 2:
        return (int(idx[0]) if len(idx) else None), None, None, 0.0
    main, second = int(idx[0]), int(idx[1])
    lo, hi = sorted((main, second))
    valley = lo + int(np.argmin(smoothed[lo : hi + 1]))
    return main, second, valley, float(min(smoothed[lo], smoothed[hi]) - smoothed[valley])


def _lag1(deviations: np.ndarray) -> np.ndarray:
    """Lag-1 correlation over layers of (..., n_folds, n_layers) fold deviations, pooled.

    Each layer's deviations are scaled by their SD over folds; they are not centred over
    layers, which would remove the slow part of the noise.  Returns (...,), in [-0.95, 0.99].
    """
    sd = deviations.std(axis=-2, keepdims=True)
    z = deviations / np.where(sd > 0, sd, 1.0)
    a, b = z[..., :-1], z[..., 1:]
    num = (a * b).sum(axis=(-2, -1))
    den = np.sqrt((a * a).sum(axis=(-2, -1)) * (b * b).sum(axis=(-2, -1)))
    return np.clip(np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0), -0.95, 0.99)


def _ar1(phi: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Unit-variance AR(1) noise (n, *shape[1:-1], n_layers), one ``phi`` (n,) per draw."""
    z = rng.normal(size=shape)
    phi = np.asarray(phi, dtype=float).reshape((-1,) + (1,) * (len(shape) - 2))
    out = np.empty(shape)
    out[..., 0] = z[..., 0]
    for k in range(1, shape[-1]):
        out[..., k] = phi * out[..., k - 1] + np.sqrt(1 - phi**2) * z[..., k]
    return out


def fold_noise(
    se: np.ndarray,
    deviations: np.ndarray | None,
    n_sim: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Noise of a curve, as its folds show it: per-layer SE, autocorrelated over layers.

    Parameters
    ----------
    se : array of shape (n_layers,)
        The curve's fold SE at each layer.
    deviations : array of shape (n_folds, n_layers), optional
        Fold scores minus their mean over folds (pure noise).  Their lag-1 correlation over
        layers sets the noise's autocorrelation (AR(1)); each draw refits it to as many
        simulated deviations, so its uncertainty is in the null, and the refits are
        recentred on the bias-corrected estimate.  Without them the noise is independent
        across layers.
    n_sim : int
    rng : numpy Generator

    Returns
    -------
    array of shape (n_sim, n_layers)

    Notes
    -----
    Adjacent layers' probes err alike (the residual stream changes slowly), so fold noise
    is smooth over layers.  Independent noise in the null made a flat curve with such noise
    a "double peak" in 10-19 % of simulations at α = 0.05 (lag-1 correlation 0.5-0.8).
    """
    n_layers = len(se)
    if deviations is None or deviations.shape[0] < 3:
        return rng.normal(size=(n_sim, n_layers)) * se
    k = deviations.shape[0]
    observed = _lag1(deviations)
    pseudo = _ar1(np.full(n_sim, observed), (n_sim, k, n_layers), rng)
    refit = _lag1(pseudo - pseudo.mean(axis=1, keepdims=True))
    # the estimate runs low (-0.04 at 0.5 with 6 folds): shift the refits so they centre on
    # the bias-corrected value, 2 x observed - mean(refit), keeping their spread
    phi = np.clip(refit + 2 * (observed - refit.mean()), -0.95, 0.99)
    return _ar1(phi, (n_sim, n_layers), rng) * se


def _null_dips(
    score: np.ndarray,
    se: np.ndarray,
    deviations: np.ndarray | None,
    *,
    smooth: float,
    threshold: float,
    chance: float,
    z: float,
    n_sim: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Dips of ``n_sim`` single-peaked curves: the unimodal fit plus the fold noise, and of
    ``n_sim`` flat curves (at the weighted mean) plus the fold noise.

    Returns two arrays of shape (n_sim,); the whole procedure (smoothing, peaks above
    chance, the two most prominent, the valley) runs on each simulated curve.
    """
    weights = 1.0 / se**2
    fit = unimodal_fit(score, weights)
    flat = np.full_like(score, float((weights * score).sum() / weights.sum()))
    return tuple(
        _dips(truth + fold_noise(se, deviations, n_sim, rng), se, smooth, threshold, chance, z)
        for truth in (fit, flat)
    )


def _dips(
    raw: np.ndarray, se: np.ndarray, smooth: float, threshold: float, chance: float, z: float
) -> np.ndarray:
    """The smoothed dip of each simulated curve (n_sim, n_layers) → (n_sim,)."""
    sims = smooth_curve(raw, smooth)
    above = raw - chance > z * se
    return np.array([_dip_of(s, threshold, keep=k)[3] for s, k in zip(sims, above)])


def _fold_dip_interval(
    folds: pd.DataFrame, layers: np.ndarray, points: tuple[int, int, int], smooth: float
) -> tuple[float, float]:
    """95 % t-interval over folds of the dip at the chosen layers (a description)."""
    table = folds.pivot_table(index="fold", columns="layer", values="score").reindex(columns=layers)
    per_fold = smooth_curve(table.to_numpy(dtype=float), smooth)
    i1, i2, iv = points
    dips = np.minimum(per_fold[:, i1], per_fold[:, i2]) - per_fold[:, iv]
    dips = dips[np.isfinite(dips)]
    if len(dips) < 2:
        return float("nan"), float("nan")
    mean, sd = float(np.mean(dips)), float(np.std(dips, ddof=1))
    half = stats.t.ppf(0.975, len(dips) - 1) * sd / np.sqrt(len(dips))
    return mean - half, mean + half


def _above_z(n_layers: int, alpha: float, n_folds: int | None = None) -> float:
    """Fold SEs a peak must stand above chance: Bonferroni over the layers, t with k - 1 df."""
    q = 1 - alpha / max(n_layers, 1)
    if n_folds is None or n_folds < 2:
        return float(stats.norm.ppf(q))
    return float(stats.t.ppf(q, n_folds - 1))


def _empty_row() -> dict:
    nan = float("nan")
    return {
        "verdict": "no peak",
        "n_peaks": 0,
        "peak_layer": nan,
        "peak_depth": nan,
        "second_peak_layer": nan,
        "second_peak_depth": nan,
        "valley_layer": nan,
        "valley_depth": nan,
        "dip": nan,
        "dip_lo": nan,
        "dip_hi": nan,
        "p_value": nan,
        "n_sim": 0,
        "double_peak": False,
    }


@one_blas_thread
def double_peak(
    curve: pd.DataFrame,
    folds: pd.DataFrame,
    *,
    smooth: float = PEAK_SMOOTH,
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
        One curve's ``probe_scores`` rows (n_layers rows: ``layer``, ``score``,
        ``score_se``, ``n_layers``, optionally ``chance``).
    folds : DataFrame
        The same curve's ``fold_scores`` rows (``fold``, ``layer``, ``score``).
    smooth, se_factor, min_prominence
        As in :func:`find_curve_peaks`.
    alpha : float, default=0.05
    n_sim : int, default=200
        Simulated single-peaked curves for the p-value.

    Returns
    -------
    DataFrame
        One row: ``verdict`` (one of :data:`VERDICTS`), ``n_peaks`` (peaks above chance by
        the Bonferroni bound over layers, in fold SEs), ``peak_layer``/``peak_depth`` (the
        curve's peak, as in the peaks table), ``second_peak_layer``/``_depth``,
        ``valley_layer``/``_depth`` (the lowest smoothed layer between the two), ``dip``
        (smoothed), ``dip_lo``/``dip_hi`` (95 % interval
        over folds, descriptive), ``p_value`` (the larger of the shares of ``n_sim``
        curves simulated from the best single-peaked fit, and from a flat curve, plus the
        fold noise, whose dip is at least as large, the whole procedure rerun on each, with
        the +1 correction), ``n_sim`` and ``double_peak``.
    """
    row = _empty_row()
    curve = curve.sort_values("layer")
    score = curve["score"].to_numpy(dtype=float)
    if len(score) < 3 or not np.isfinite(score).all():
        return pd.DataFrame([row])
    layers = curve["layer"].to_numpy()
    n_layers = int(curve["n_layers"].iloc[0]) if "n_layers" in curve else len(layers)
    se = np.maximum(curve["score_se"].fillna(0).to_numpy(dtype=float), 1e-12)
    chance = float(curve["chance"].iloc[0]) if "chance" in curve else -np.inf
    threshold = _threshold(curve, se_factor, min_prominence)
    smoothed = smooth_curve(score, smooth)
    n_folds = int(folds["fold"].nunique()) if "fold" in folds.columns and len(folds) else None
    z = _above_z(len(score), alpha, n_folds)
    above = score - chance > z * se
    main, second, valley, dip = _dip_of(smoothed, threshold, keep=above)
    row["n_peaks"] = int(above[_peaks_of(smoothed, threshold)[0]].sum())
    if main is None:
        return pd.DataFrame([row])

    def at(prefix: str, i: int) -> dict:
        return {
            f"{prefix}_layer": int(layers[i]),
            f"{prefix}_depth": float(relative_depth(layers[i], n_layers)),
        }

    row.update(verdict="single peak", **at("peak", main))
    if second is None:
        return pd.DataFrame([row])
    row.update(**at("second_peak", second), **at("valley", valley), dip=dip)
    lo, hi = sorted((main, second))
    row["dip_lo"], row["dip_hi"] = _fold_dip_interval(folds, layers, (lo, hi, valley), smooth)
    rng = np.random.default_rng(seed)
    table = folds.pivot_table(index="fold", columns="layer", values="score")
    table = table.reindex(columns=layers).to_numpy(dtype=float) if len(folds) else None
    usable = table is not None and len(table) >= 3 and np.isfinite(table).all()
    deviations = table - table.mean(axis=0) if usable else None
    near, flat = _null_dips(
        score,
        se,
        deviations,
        smooth=smooth,
        threshold=threshold,
        chance=chance,
        z=z,
        n_sim=n_sim,
        rng=rng,
    )
    # the null is every single-peaked curve: the fit to this one, and the flat curve, the
    # least favourable for a dip (a smooth noise bump there looks like a second peak)
    row["p_value"] = float(max((1 + np.sum(null >= dip)) / (1 + n_sim) for null in (near, flat)))
    row["n_sim"] = n_sim
    row["double_peak"] = bool(row["p_value"] < alpha and dip > 0)
    row["verdict"] = "double peak" if row["double_peak"] else "two peaks, dip within noise"
    return pd.DataFrame([row])
