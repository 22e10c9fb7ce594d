"""Probe solvers in kernel form: one Gram matrix per fold serves every target and null.

Stimuli are few and activations wide (n << d), so everything is done on the
``(n, n)`` Gram matrix of the fold-standardised features instead of the ``(n, d)`` data:

- the SVM is ``SVC(kernel="precomputed")`` on that Gram matrix, which is exactly
  ``StandardScaler`` + ``SVC(kernel="linear")`` refitted per fold;
- ridge is solved in its dual: one eigendecomposition of the centred training kernel
  serves every alpha and every label column, permuted labels included, and the inner
  grouped CV that picks alpha centres its kernels from the same matrix.
"""

from __future__ import annotations

import numpy as np
from sklearn.svm import SVC

from core.probe.folds import inner_splits


def standardized_gram(X: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Gram matrix of all rows after scaling with the training rows' mean and std.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    train : ndarray of int
        Training rows; features are standardised with their mean and (population) std, and
        constant features keep scale 1, as ``StandardScaler`` does.

    Returns
    -------
    ndarray of shape (n_samples, n_samples), float64
    """
    X = np.asarray(X, dtype=np.float64)
    mean = X[train].mean(axis=0)
    std = X[train].std(axis=0)
    std[std < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)] = 1.0
    Z = (X - mean) / std
    return Z @ Z.T


def _centre(G: np.ndarray, fit: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kernel of ``fit`` rows centred on their own mean, and of ``rows`` against them."""
    K = G[np.ix_(fit, fit)]
    col = K.mean(axis=0)
    total = col.mean()
    Kc = K - col[:, None] - col[None, :] + total
    cross = G[np.ix_(rows, fit)]
    cross_c = cross - cross.mean(axis=1, keepdims=True) - col[None, :] + total
    return Kc, cross_c


def _dual_predictions(
    G: np.ndarray, fit: np.ndarray, rows: np.ndarray, Y: np.ndarray, alphas: np.ndarray
) -> np.ndarray:
    """Ridge predictions for ``rows`` from a fit on ``fit``, for every alpha and column.

    Returns
    -------
    ndarray of shape (n_alphas, len(rows), n_columns)
    """
    Kc, cross = _centre(G, fit, rows)
    eigval, eigvec = np.linalg.eigh(Kc)
    eigval = np.clip(eigval, 0.0, None)
    y_mean = Y[fit].mean(axis=0)
    Z = eigvec.T @ (Y[fit] - y_mean)  # (m, t)
    A = cross @ eigvec  # (r, m)
    out = np.empty((len(alphas), len(rows), Y.shape[1]))
    for a, alpha in enumerate(alphas):
        out[a] = A @ (Z / (eigval + alpha)[:, None]) + y_mean
    return out


def _r2_columns(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``r2_score`` per column over the last two axes, as GridSearchCV's scorer gives it."""
    ss_res = ((y - pred) ** 2).sum(axis=-2)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1 - ss_res / ss_tot
    return np.where(ss_tot == 0, np.where(ss_res == 0, 1.0, 0.0), out)


def ridge_fold(
    G: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    Y: np.ndarray,
    groups: np.ndarray,
    *,
    alphas: np.ndarray,
    n_inner: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out ridge predictions with alpha chosen per column by inner grouped CV.

    Equal to ``make_pipeline(StandardScaler(), GridSearchCV(Ridge(), {"alpha": alphas},
    cv=GroupKFold(n_inner), scoring="r2"))`` fitted on ``train`` with the training groups.

    Parameters
    ----------
    G : ndarray of shape (n, n)
        :func:`standardized_gram` of this fold.
    Y : ndarray of shape (n, n_columns)
        Label columns (a target and its permutations).

    Returns
    -------
    predictions : ndarray of shape (len(test), n_columns)
    best : ndarray of int, shape (n_columns,)
        Index of the chosen alpha per column.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    inner_scores = np.zeros((len(alphas), Y.shape[1]))
    splits = inner_splits(groups[train], n_inner)
    for inner_train, inner_test in splits:
        fit, rows = train[inner_train], train[inner_test]
        pred = _dual_predictions(G, fit, rows, Y, alphas)
        inner_scores += _r2_columns(Y[rows], pred)
    best = np.argmax(inner_scores / len(splits), axis=0)  # first of ties, as GridSearchCV
    pred = _dual_predictions(G, train, test, Y, alphas)
    return pred[best, :, np.arange(Y.shape[1])].T, best


def svm_fold(
    G: np.ndarray, train: np.ndarray, test: np.ndarray, y: np.ndarray, *, C: float = 1.0
) -> np.ndarray | None:
    """Held-out SVM predictions (``None`` when the training rows hold a single class)."""
    if len(np.unique(y[train])) < 2:
        return None
    model = SVC(kernel="precomputed", C=C)
    model.fit(G[np.ix_(train, train)], y[train])
    return model.predict(G[np.ix_(test, train)])
