"""Fold scores, vectorised over many label columns (targets and permutations) at once.

Each matches its scikit-learn namesake (``accuracy_score``, ``balanced_accuracy_score``,
``r2_score``, ``scipy.stats.pearsonr``); tests check that.
"""

from __future__ import annotations

import numpy as np

CLASSIFICATION = ("balanced_accuracy", "accuracy")
REGRESSION = ("pearson_r", "r2")
PRIMARY = {"svm": "balanced_accuracy", "ridge": "pearson_r"}
BY_PROBE = {"svm": CLASSIFICATION, "ridge": REGRESSION}


def accuracy(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per column of ``(n, t)`` arrays."""
    return (y == pred).mean(axis=0)


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present in each column of ``y``.

    Parameters
    ----------
    y, pred : ndarray of shape (n,) or (n, n_columns)
        Class codes (non-negative integers for the vectorised path).

    Returns
    -------
    ndarray of shape (n_columns,)
    """
    y, pred = np.atleast_2d(y.T).T, np.atleast_2d(pred.T).T
    if y.size and np.issubdtype(y.dtype, np.integer) and y.min() >= 0:
        classes = np.arange(int(y.max()) + 1)
        truth = y[None, :, :] == classes[:, None, None]  # (k, n, t)
        count = truth.sum(axis=1)
        hits = (truth & (pred[None, :, :] == classes[:, None, None])).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = hits / count
        return np.nanmean(np.where(count > 0, recall, np.nan), axis=0)
    out = np.empty(y.shape[1])
    for j in range(y.shape[1]):
        classes = np.unique(y[:, j])
        out[j] = np.mean([(pred[y[:, j] == c, j] == c).mean() for c in classes])
    return out


def r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column; 1 for a perfect fit of a constant, else 0."""
    ss_res = ((y - pred) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1 - ss_res / ss_tot
    constant = ss_tot == 0
    out[constant] = np.where(ss_res[constant] == 0, 1.0, 0.0)
    return out


def pearson_r(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Pearson correlation per column; NaN where either side is constant."""
    yc = y - y.mean(axis=0)
    pc = pred - pred.mean(axis=0)
    denom = np.sqrt((yc**2).sum(axis=0) * (pc**2).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (yc * pc).sum(axis=0) / denom
    out[denom == 0] = np.nan
    return np.clip(out, -1.0, 1.0)


def score_all(kind: str, y: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of a probe kind, each an array over columns."""
    if kind == "ridge":
        return {"pearson_r": pearson_r(y, pred), "r2": r2(y, pred)}
    return {"balanced_accuracy": balanced_accuracy(y, pred), "accuracy": accuracy(y, pred)}


def chance(metric: str, labels: np.ndarray) -> float:
    """What a probe that knows nothing scores: 1/k balanced, majority rate plain, 0 for r."""
    if metric == "balanced_accuracy":
        return 1.0 / len(np.unique(labels))
    if metric == "accuracy":
        return float(np.bincount(np.unique(labels, return_inverse=True)[1]).max() / len(labels))
    return 0.0
