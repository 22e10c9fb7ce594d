"""Layer × layer and target × target structure: score correlations and linear CKA."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.analysis.summary import normalized


def _table(scores: pd.DataFrame) -> pd.DataFrame:
    """Layers × targets of normalised scores (one metric per target: pass primary rows)."""
    frame = scores.assign(value=normalized(scores))
    return frame.pivot_table(index="layer", columns="target", values="value").sort_index()


def layer_correlation(scores: pd.DataFrame, *, zscore: bool = False) -> pd.DataFrame:
    """Correlation between layers of their score profiles across targets.

    With ``zscore`` each target's curve is standardised over layers first, so a target that
    is easy everywhere does not dominate: what remains is where in depth each target rises
    and falls.  Alternation between adjacent layers shows as a checkerboard next to the
    diagonal.

    Parameters
    ----------
    scores : DataFrame
        Primary-metric rows of one curve family (n_targets × n_layers rows: ``target``,
        ``layer``, ``score``, ``chance``).
    zscore : bool, default=False

    Returns
    -------
    DataFrame of shape (n_layers, n_layers)
        Index and columns are layer numbers; NaN with fewer than 3 targets.
    """
    table = _table(scores)
    if zscore:
        table = (table - table.mean()) / table.std(ddof=0).replace(0, np.nan)
    if table.shape[1] < 3:
        return pd.DataFrame(np.nan, index=table.index, columns=table.index)
    return pd.DataFrame(
        np.corrcoef(table.fillna(0).to_numpy()), index=table.index, columns=table.index
    )


def target_correlation(scores: pd.DataFrame) -> pd.DataFrame:
    """Correlation between targets of their layer profiles (which targets rise together).

    Parameters
    ----------
    scores : DataFrame
        Primary-metric rows (n_targets × n_layers rows), as :func:`layer_correlation`.

    Returns
    -------
    DataFrame of shape (n_targets, n_targets)
    """
    table = _table(scores)
    return table.corr()


def _centred_gram(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    X = X - X.mean(axis=0)
    return X @ X.T


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear CKA (Kornblith et al. 2019) of two representations of the same stimuli.

    ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with centred linear Gram matrices: 1 for
    identical representations, invariant to rotation and isotropic scaling.  Computed on
    ``(n, n)`` Gram matrices, cheap when ``n << d``.

    Parameters
    ----------
    X : array of shape (n_items, d_x)
    Y : array of shape (n_items, d_y)

    Returns
    -------
    float
        In [0, 1]; NaN when either representation is constant.

    Raises
    ------
    ValueError
        When ``X`` and ``Y`` have different numbers of rows.
    """
    if len(X) != len(Y):
        raise ValueError(f"X and Y must describe the same stimuli ({len(X)} vs {len(Y)} rows)")
    K, L = _centred_gram(X), _centred_gram(Y)
    denom = np.sqrt((K * K).sum() * (L * L).sum())
    return float((K * L).sum() / denom) if denom > 0 else float("nan")


def cka_matrix(activations: np.ndarray) -> pd.DataFrame:
    """Linear CKA between every pair of layers of one component.

    Parameters
    ----------
    activations : ndarray of shape (n_items, n_layers, d_model)

    Returns
    -------
    DataFrame of shape (n_layers, n_layers)
        Symmetric, 1 on the diagonal.
    """
    acts = np.asarray(activations)
    if acts.ndim != 3:
        raise ValueError("activations must have shape (n_items, n_layers, d_model)")
    n_layers = acts.shape[1]
    grams = np.stack([_centred_gram(acts[:, layer]).ravel() for layer in range(n_layers)])
    norms = np.linalg.norm(grams, axis=1)
    norms[norms == 0] = np.nan
    unit = grams / norms[:, None]
    matrix = np.clip(unit @ unit.T, -1.0, 1.0)
    return pd.DataFrame(matrix, index=range(n_layers), columns=range(n_layers))
