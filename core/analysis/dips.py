"""Shared dips: layers where most targets' curves drop at once, beyond each curve's roughness.

A dip of a curve at layer ``l`` is how far it lies below its neighbours: below the
quadratic fitted to the two layers on each side (``l-2, l-1, l+1, l+2``, least squares),
whose value at ``l`` is ``d(l) = 2/3 (y(l-1) + y(l+1)) - 1/6 (y(l-2) + y(l+2)) - y(l)``.
The plain neighbours' mean would call every layer on a convex flank a dip, and targets
sharing one smooth shape share those (simulated: 39 % false alarms for identical bumps of
width 3 layers with noise 0.01); the quadratic absorbs any bend, so only a drop at one
layer counts.  Every noisy curve has some; what points at the
model rather than the measurement (an attention sink, a change of basis) is a dip that the
targets *share*.  The statistic at ``l`` is the mean over targets of ``d_t(l) / s_t``,
each target's dips scaled by their own robust spread ``s_t`` (1.4826 × MAD over layers),
so a rough curve does not outvote smooth ones.

The null keeps every curve's roughness and breaks only the alignment across targets:
each target's layer-to-layer changes ``y(l+1) - y(l)`` are shifted circularly by an
independent random offset (its dips move to random layers, their sizes and order kept).
The p-value of a layer compares its statistic with the null's maximum over layers, so the
flags hold the family-wise error over all layers at ``alpha``.  A layer is flagged when
that p-value is below ``alpha`` and more than half the targets dip there.

Dips are defined at layers 2 .. L-3 (two neighbours on each side).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

MIN_TARGETS = 3
"""Fewer curves cannot share a dip in any useful sense: no test below this."""


def dip_depths(curves: np.ndarray) -> np.ndarray:
    """Each curve's depth below the quadratic through its two neighbours on each side.

    Parameters
    ----------
    curves : ndarray of shape (..., n_layers)

    Returns
    -------
    ndarray of shape (..., n_layers - 4)
        ``d[..., j]`` belongs to layer ``j + 2``; positive = below its neighbours.
    """
    y = np.asarray(curves, dtype=float)
    near = y[..., 1:-3] + y[..., 3:-1]
    far = y[..., :-4] + y[..., 4:]
    return 2 / 3 * near - far / 6 - y[..., 2:-2]


def _scale(dips: np.ndarray) -> np.ndarray:
    """Robust spread of each curve's dips (1.4826 × MAD), never zero."""
    mad = 1.4826 * np.median(np.abs(dips - np.median(dips, axis=1, keepdims=True)), axis=1)
    sd = dips.std(axis=1)
    scale = np.where(mad > 0, mad, sd)
    return np.where(scale > 0, scale, 1.0)


def _shifted_dips(steps: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Dips of curves whose changes ``steps`` (n_curves, n_layers - 1) are rolled by
    ``shifts`` (n_sim, n_curves): array of shape (n_sim, n_curves, n_layers - 4)."""
    n = steps.shape[1]
    index = (np.arange(n)[None, None, :] - shifts[:, :, None]) % n
    rolled = np.take_along_axis(np.broadcast_to(steps, (*shifts.shape, n)), index, axis=2)
    start = np.zeros((*shifts.shape, 1))
    return dip_depths(np.concatenate([start, np.cumsum(rolled, axis=2)], axis=2))


def shared_dips(
    curves: np.ndarray,
    *,
    layers: Iterable[int] | None = None,
    sink_layers: Iterable[int] = (),
    n_sim: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Test every interior layer for a dip the targets share.

    Parameters
    ----------
    curves : ndarray of shape (n_targets, n_layers)
        One curve per target (e.g. normalised scores), the same layers in each.
    layers : iterable of int, optional
        The layer numbers of the columns (default ``0 .. n_layers - 1``).
    sink_layers : iterable of int
        Attention-sink layers: flagged dips there say so (``at_sink``).
    n_sim : int, default=2000
        Circular-shift replicates of the null.
    alpha : float, default=0.05
        Family-wise error over the layers.
    seed : int

    Returns
    -------
    DataFrame
        One row per layer 2 .. L-3: ``layer``, ``mean_dip`` (mean over targets of the raw
        dip), ``share`` (fraction of targets dipping), ``statistic``, ``p_value``
        (max-over-layers null), ``shared`` (flagged), ``at_sink``, ``n_targets``,
        ``n_sim``.  Empty with fewer than :data:`MIN_TARGETS` curves or 5 layers.

    Examples
    --------
    Ten flat noisy curves that all drop by five noise SDs at layer 12 are flagged there and
    nowhere else (see the calibration test).
    """
    curves = np.asarray(curves, dtype=float)
    curves = curves[~np.isnan(curves).any(axis=1)]
    n_targets, n_layers = curves.shape if curves.ndim == 2 else (0, 0)
    if n_targets < MIN_TARGETS or n_layers < 5:
        return pd.DataFrame()
    numbers = np.arange(n_layers) if layers is None else np.asarray(list(layers))
    dips = dip_depths(curves)
    scale = _scale(dips)
    statistic = (dips / scale[:, None]).mean(axis=0)
    rng = np.random.default_rng(seed)
    steps = np.diff(curves, axis=1)
    top = np.empty(n_sim)
    for start in range(0, n_sim, 500):  # bounded memory: 500 replicates at a time
        size = min(500, n_sim - start)
        shifts = rng.integers(0, n_layers - 1, size=(size, n_targets))
        null = (_shifted_dips(steps, shifts) / scale[None, :, None]).mean(axis=1)
        top[start : start + size] = null.max(axis=1)
    p_value = (1 + (top[None, :] >= statistic[:, None]).sum(axis=1)) / (1 + n_sim)
    share = (dips > 0).mean(axis=0)
    interior = numbers[2:-2]
    shared = (p_value < alpha) & (share > 0.5)
    return pd.DataFrame(
        {
            "layer": interior.astype(int),
            "mean_dip": dips.mean(axis=0),
            "share": share,
            "statistic": statistic,
            "p_value": p_value,
            "shared": shared,
            "at_sink": np.isin(interior, list(sink_layers)),
            "n_targets": n_targets,
            "n_sim": n_sim,
        }
    )


def valley_at_sink(valley_layer: float, sink_layers: Iterable[int]) -> bool:
    """Whether a double peak's valley is an attention-sink layer."""
    return bool(pd.notna(valley_layer) and int(valley_layer) in set(sink_layers))
