"""Depth axes: absolute layer (0-based) and relative depth l / (L-1)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def relative_depth(layer, n_layers) -> np.ndarray:
    """``l / (L-1)``: 0 for the first block, 1 for the last, whatever the model's depth.

    Parameters
    ----------
    layer : int or array of shape (n,)
        0-based layers.
    n_layers : int or array broadcastable to ``layer``

    Returns
    -------
    array of shape (n,) (or a 0-d array)

    Raises
    ------
    ValueError
        When ``n_layers`` is below 1.
    """
    layer = np.asarray(layer, dtype=float)
    n_layers = np.asarray(n_layers, dtype=float)
    if np.any(n_layers < 1):
        raise ValueError("n_layers must be at least 1")
    return layer / np.maximum(n_layers - 1, 1)


def align(
    curves: pd.DataFrame,
    *,
    by: list[str],
    value: str = "score",
    grid: np.ndarray | None = None,
    extra: tuple[str, ...] = ("score_se",),
) -> pd.DataFrame:
    """Put curves of models of different depth on one relative-depth grid.

    Each curve (one group of ``by``) is linearly interpolated onto ``grid`` (default: the
    union of every curve's own depths), and its original points are kept: the column
    ``original`` says which rows are measured and which interpolated.

    Parameters
    ----------
    curves : DataFrame
        ``by`` columns, ``layer``, ``n_layers``, ``value`` and optionally ``extra`` columns
        (one row per curve and layer).
    by : list of str
        Columns that identify one curve, e.g. ``["model", "target", "component"]``.
    value : str, default="score"
    grid : array of shape (n_grid,), optional
        Relative depths to interpolate onto.
    extra : tuple of str
        Further columns interpolated alike.

    Returns
    -------
    DataFrame
        One row per curve and point of ``grid`` ∪ its own depths: ``by`` columns,
        ``relative_depth``, ``value`` (and ``extra``), ``original``.
    """
    needed = {*by, "layer", "n_layers", value}
    missing = needed - set(curves.columns)
    if missing:
        raise ValueError(f"curves lack columns {sorted(missing)}")
    frame = curves.assign(relative_depth=relative_depth(curves["layer"], curves["n_layers"]))
    if grid is None:
        grid = np.unique(frame["relative_depth"].round(6))
    grid = np.asarray(grid, dtype=float)
    out = []
    columns = [value, *[c for c in extra if c in frame.columns]]
    for key, curve in frame.groupby(by, sort=False):
        curve = curve.sort_values("relative_depth")
        own = curve["relative_depth"].round(6).to_numpy()
        points = np.union1d(grid, own)
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        part = pd.DataFrame({"relative_depth": points})
        for column in columns:
            part[column] = np.interp(points, own, curve[column].to_numpy(dtype=float))
        part["original"] = np.isin(points, own)
        for column, v in row.items():
            part[column] = v
        out.append(part)
    return pd.concat(out, ignore_index=True)[[*by, "relative_depth", *columns, "original"]]
