"""Anti-persistence of adjacent layers: do neighbouring layers alternate in what they decode?

The paper's statistic is the lag-1 correlation of a curve's first differences,
``ρ = corr(Δ(l), Δ(l+1))`` with ``Δ(l) = s(l+1) - s(l)``.  Differencing alone makes it
negative: for pure noise ``Δ(l)`` and ``Δ(l+1)`` share ``s(l+1)`` with opposite signs, so
ρ = -0.5 exactly in expectation, and a smooth curve plus CV noise of about one accuracy
point gives about -0.3.  So :func:`naive_rho` reports ρ beside a noise baseline: the same
statistic on the curve's own smooth trend plus fresh noise of its fold SE (the trend keeps
part of the curve's noise, so the fresh noise is scaled down to keep the total).

:func:`split_half_rho` removes the bias: the stimulus groups are split in two, each half
gives its own curve (``half_scores``), and ρ = corr(Δ_A(l), Δ_B(l+1)) pairs differences from
independent halves, whose noise is independent.  Noise gives ρ ≈ 0, a smooth curve ρ > 0,
and only real alternation ρ < 0.  Its baseline shuffles the layer order of one half's
differences.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

GROUP = ("model", "stimulus_set", "pooling", "component")
CURVE = ("target", "metric")


def _lag_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Δa(l), Δb(l+1)) pairs, each curve's differences z-scored so curves can be pooled."""
    da, db = np.diff(a), np.diff(b)

    def z(x):
        sd = x.std()
        return (x - x.mean()) / sd if sd > 0 else x * 0

    da, db = z(da), z(db)
    return da[:-1], db[1:]


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def _against(rho: float, baseline: np.ndarray) -> dict:
    """ρ beside its baseline: mean, 95 % interval, one-sided p for anti-persistence, verdict."""
    p = float((np.sum(baseline <= rho) + 1) / (len(baseline) + 1))
    lo, hi = np.nanpercentile(baseline, [2.5, 97.5])
    return {
        "rho": rho,
        "baseline_mean": float(np.nanmean(baseline)),
        "baseline_lo": float(lo),
        "baseline_hi": float(hi),
        "p_value": p,
        "verdict": _verdict(p, rho, float(hi)),
    }


def _verdict(p: float, rho: float, hi: float) -> str:
    if not np.isfinite(rho):
        return "not enough layers"
    if p < 0.05:
        return "anti-persistent beyond noise"
    if rho > hi:
        return "smoother than noise (persistent)"
    return "indistinguishable from noise"


def naive_rho(
    scores: pd.DataFrame,
    *,
    by: tuple[str, ...] = GROUP,
    n_baseline: int = 1000,
    trend_sigma: float = 2.0,
    seed: int = 0,
) -> pd.DataFrame:
    """The paper's lag-1 correlation of first differences, pooled over a group's curves.

    Parameters
    ----------
    scores : DataFrame
        ``probe_scores`` rows (one metric per target), with ``score_se``.
    by : tuple of str
        What one estimate pools over: by default the targets of one model × set × pooling ×
        component.
    n_baseline : int
        Simulated noise curves for the baseline.
    trend_sigma : float
        Gaussian smoothing (layers) that gives each curve's trend for the baseline.

    Returns
    -------
    DataFrame
        One row per group: ``rho``, ``baseline_mean``, ``baseline_lo``, ``baseline_hi``
        (2.5-97.5 %), ``p_value`` (share of baseline ρ at or below ρ), ``n_curves``,
        ``verdict``.
    """
    rng = np.random.default_rng(seed)
    keys = [k for k in by if k in scores.columns]
    rows = []
    for key, group in scores.groupby(keys, sort=False):
        head = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        curves = [
            (
                c.sort_values("layer")["score"].to_numpy(float),
                c.sort_values("layer")["score_se"].fillna(0).to_numpy(float),
            )
            for _, c in group.groupby([k for k in CURVE if k in group.columns], sort=False)
        ]
        curves = [(s, se) for s, se in curves if len(s) >= 4 and np.isfinite(s).all()]
        if not curves:
            rows.append({**head, "rho": np.nan, "verdict": "not enough layers"})
            continue
        pairs = [_lag_pairs(s, s) for s, _ in curves]
        rho = _corr(np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]))
        baseline = np.empty(n_baseline)
        trends = [gaussian_filter1d(s, trend_sigma, mode="nearest") for s, _ in curves]
        # the smoothed trend keeps part of the curve's own noise (the sum of the squared
        # kernel weights); fresh noise makes up the rest, so pure noise is reproduced
        impulse = np.zeros(41)
        impulse[20] = 1.0
        kept = float((gaussian_filter1d(impulse, trend_sigma) ** 2).sum())
        fresh = np.sqrt(max(1.0 - kept, 0.0))
        for b in range(n_baseline):
            sim = []
            for t, (_, se) in zip(trends, curves):
                noisy = t + rng.normal(0, np.maximum(se * fresh, 1e-12))
                sim.append(_lag_pairs(noisy, noisy))
            baseline[b] = _corr(
                np.concatenate([p[0] for p in sim]), np.concatenate([p[1] for p in sim])
            )
        rows.append({**head, **_against(rho, baseline), "n_curves": len(curves)})
    return pd.DataFrame(rows)


def split_half_rho(
    halves: pd.DataFrame,
    *,
    by: tuple[str, ...] = GROUP,
    n_baseline: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """The split-half estimator ρ = corr(Δ_A(l), Δ_B(l+1)), symmetrised, pooled over curves.

    Parameters
    ----------
    halves : DataFrame
        ``half_scores`` rows: the ``by`` columns, ``target``, ``metric``, ``layer``,
        ``split``, ``half`` (0/1) and ``score``.

    Returns
    -------
    DataFrame
        One row per group: ``rho``, ``baseline_mean``/``baseline_lo``/``baseline_hi``
        (the estimator with one half's differences in shuffled layer order), ``p_value``
        (one-sided, share of baseline ρ at or below ρ), ``n_curves`` (curve × split),
        ``n_pairs``, ``verdict``.
    """
    rng = np.random.default_rng(seed)
    keys = [k for k in by if k in halves.columns]
    rows = []
    for key, group in halves.groupby(keys, sort=False):
        items = []
        curve_keys = [k for k in CURVE if k in group.columns] + ["split"]
        for _, curve in group.groupby(curve_keys, sort=False):
            wide = curve.pivot_table(index="layer", columns="half", values="score").sort_index()
            if wide.shape[1] != 2 or len(wide) < 4 or not np.isfinite(wide.to_numpy()).all():
                continue
            a, b = wide.iloc[:, 0].to_numpy(float), wide.iloc[:, 1].to_numpy(float)
            items.append((a, b))
        head = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        if not items:
            rows.append({**head, "rho": np.nan, "verdict": "not enough layers"})
            continue

        def estimate(shuffle: bool, items=items) -> float:
            xs, ys = [], []
            for a, b in items:
                for first, second in ((a, b), (b, a)):
                    x, y = _lag_pairs(first, second)
                    if shuffle:
                        y = rng.permutation(y)
                    xs.append(x)
                    ys.append(y)
            return _corr(np.concatenate(xs), np.concatenate(ys))

        rho = estimate(False)
        baseline = np.array([estimate(True) for _ in range(n_baseline)])
        rows.append(
            {
                **head,
                **_against(rho, baseline),
                "n_curves": len(items),
                "n_pairs": int(sum(2 * (len(a) - 2) for a, _ in items)),
            }
        )
    return pd.DataFrame(rows)
