"""Probe solvers in kernel form: one Gram matrix per fold serves every target and null.

Stimuli are few and activations wide (n << d), so everything is done on the ``(n, n)``
Gram matrix of the fold-standardised features instead of the ``(n, d)`` data:

- the real SVM fits are ``SVC(kernel="precomputed")`` on that Gram matrix (libsvm called as
  ``SVC`` calls it: :class:`Libsvm`), which is exactly ``StandardScaler`` +
  ``SVC(kernel="linear")`` refitted per fold; the permuted labels'
  SVMs are solved all at once by :mod:`core.probe.dual_svm` (:func:`svm_null_predictions`);
- ridge is solved in its dual: one eigendecomposition of the (already centred) training
  kernel serves every alpha and every label column, permuted labels included, and the
  inner grouped CV that picks alpha reuses it through the exact block-deletion identity
  of penalised least squares (no inner refits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.svm import _libsvm
from sklearn.utils.multiclass import _ovr_decision_function

from core.probe import dual_svm
from core.probe.folds import inner_splits

# libsvm's SMO can cycle without end on degenerate kernels: rows that repeat with opposite
# labels, as in the half-stimulus pooling ``mean_x`` of ``pairs`` (each word stands in a
# related and an unrelated pair), where a permuted labelling of SmolLM2's attn_out ran
# 10^7 iterations without converging.  Where libsvm converges it needs far fewer (10^2-10^4
# on the built-in sets), so these caps change no converged fit; a capped fit keeps
# libsvm's last iterate (its predictions agreed 100 % with the batched solver's converged
# solution on that case: tests/probe/test_solvers.py).
LIBSVM_MAX_ITER = 10**6  # the real fits: about 15 s at 280 rows before it gives up
FALLBACK_MAX_ITER = 2 * 10**4  # the nulls' columns the batched solver left: about 0.3 s each


@dataclass(frozen=True)
class Libsvm:
    """A fitted ``SVC(kernel="precomputed", C)``: the same libsvm fit, decision values and
    predictions, to the bit, through the binding that ``SVC`` itself calls.

    What it leaves out is ``SVC``'s checking of its inputs on every call (parameters, array
    types, labels, dataframe detection): 1.2-1.6 ms a fit with its decision values on fold
    kernels of 250 and 383 training rows, where libsvm's own work takes 1-5 ms; with 90
    such fits a cell, ``bench/probes.py`` went from 190 to 151 s of CPU time for SmolLM2
    ``items`` with its nulls and from 221 to 173 s for the synthetic 70B-shaped grid.  The
    kernels here are the engine's own, float64 and C-ordered;
    ``tests/probe/test_solvers.py`` holds every output equal to ``SVC``'s.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        The training labels' classes, sorted (``SVC.classes_``).
    n_iter : ndarray of int, shape (n_classes * (n_classes - 1) / 2,)
        libsvm's iterations per one-vs-one problem (``SVC.n_iter_``).
    """

    classes: np.ndarray
    n_iter: np.ndarray
    _model: tuple  # support, support vectors, n_support, dual coefficients, intercept, probA/B

    def decision_function(self, cross: np.ndarray) -> np.ndarray:
        """``SVC.decision_function`` of test rows against the training rows, ``cross`` of
        shape (r, m): shape (r,) for two classes (positive: ``classes[1]``), else
        (r, n_classes), the one-vs-rest shape built from the one-vs-one votes."""
        cross = np.ascontiguousarray(cross, dtype=np.float64)
        dec = _libsvm.decision_function(cross, *self._model, svm_type=0, kernel="precomputed")
        if len(self.classes) == 2:
            return -dec.ravel()  # libsvm's sign is scikit-learn's flipped for two classes
        return _ovr_decision_function(dec < 0, -dec, len(self.classes))

    def predict(self, cross: np.ndarray) -> np.ndarray:
        """``SVC.predict``: libsvm's one-vs-one vote, shape (r,)."""
        cross = np.ascontiguousarray(cross, dtype=np.float64)
        codes = _libsvm.predict(cross, *self._model, svm_type=0, kernel="precomputed")
        return self.classes.take(codes.astype(np.intp))


def fit_libsvm(
    K: np.ndarray, y: np.ndarray, *, C: float = 1.0, max_iter: int = LIBSVM_MAX_ITER
) -> Libsvm:
    """``SVC(kernel="precomputed", C)`` fitted on ``K``, with libsvm's iterations capped.

    Parameters
    ----------
    K : ndarray of shape (m, m)
        Training kernel.
    y : ndarray of shape (m,)
    C : float, default=1.0
    max_iter : int, default=LIBSVM_MAX_ITER
        Where libsvm stops a fit that has not converged (``SVC`` would warn; the
        caps are explained at :data:`LIBSVM_MAX_ITER`).

    Returns
    -------
    Libsvm
    """
    classes, codes = np.unique(y, return_inverse=True)
    _libsvm.set_verbosity_wrap(0)  # libsvm prints its progress otherwise (SVC: verbose=False)
    support, vectors, n_support, dual, intercept, prob_a, prob_b, _, n_iter = _libsvm.fit(
        np.ascontiguousarray(K, dtype=np.float64),
        codes.astype(np.float64),
        svm_type=0,
        kernel="precomputed",
        C=C,
        tol=1e-3,
        class_weight=np.ones(len(classes)),  # as SVC passes for class_weight=None
        sample_weight=np.empty(0),
        shrinking=1,
        cache_size=200,
        max_iter=max_iter,
        random_seed=0,  # used for probability estimates only, which are off
    )
    model = (support, vectors, n_support, dual, intercept, prob_a, prob_b)
    return Libsvm(classes=classes, n_iter=np.asarray(n_iter), _model=model)


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
        Its training block is centred (rows and columns sum to zero) up to rounding.
    """
    X = np.asarray(X, dtype=np.float64)
    test = np.setdiff1d(np.arange(len(X)), train)
    # training mean and (two-pass) variance without copying the training rows: the
    # column sums of all rows minus those of the few test rows
    mean = (X.sum(axis=0) - X[test].sum(axis=0)) / len(train)
    Z = X - mean
    squares = np.einsum("ij,ij->j", Z, Z) - np.einsum("ij,ij->j", Z[test], Z[test])
    std = np.sqrt(np.maximum(squares, 0.0) / len(train))
    std[std < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)] = 1.0
    Z /= std
    return Z @ Z.T


@dataclass(frozen=True)
class Blocks:
    """A fold's kernel blocks, gathered once and shared by every fit of the fold.

    Attributes
    ----------
    K : ndarray of shape (m, m)
        Training rows against training rows (C-contiguous).
    cross : ndarray of shape (r, m)
        Test rows against training rows.
    """

    K: np.ndarray
    cross: np.ndarray

    @classmethod
    def of(cls, G: np.ndarray, train: np.ndarray, test: np.ndarray) -> Blocks:
        return cls(G[np.ix_(train, train)], G[np.ix_(test, train)])


@dataclass(frozen=True)
class Eigen:
    """Eigendecomposition of a fold's training kernel, shared by every ridge column.

    Attributes
    ----------
    values : ndarray of shape (m,), clipped at 0
    vectors : ndarray of shape (m, m)
    """

    values: np.ndarray
    vectors: np.ndarray

    @classmethod
    def of(cls, K: np.ndarray) -> Eigen:
        values, vectors = np.linalg.eigh(K)
        return cls(np.clip(values, 0.0, None), vectors)


def _held_out_inverses(eig: Eigen, blocks: list[np.ndarray], alphas: np.ndarray) -> list:
    """``(I − H_BB)⁻¹`` of every inner block and alpha, shared by all label columns.

    For ridge with an unpenalised intercept the hat matrix of the training rows is
    ``H = 11ᵀ/m + V diag(λ/(λ+α)) Vᵀ``.  Inverted in float64: ``I − H_BB`` nears singular
    for small alphas when the training rows are separable.

    Returns
    -------
    list of ndarray of shape (n_alphas, |B|, |B|), one per block
    """
    lam, V = eig.values, eig.vectors
    shrink = lam / (lam + alphas[:, None])  # (n_alphas, m): the hat matrix's eigenvalues
    out = []
    for B in blocks:
        VB = V[B]
        I_minus_H = np.eye(len(B)) - 1.0 / len(lam) - (VB * shrink[:, None, :]) @ VB.T
        out.append(np.linalg.inv(I_minus_H))
    return out


def _inner_r2(
    eig: Eigen,
    Z: np.ndarray,
    Yc: np.ndarray,
    blocks: list[np.ndarray],
    inverses: list[np.ndarray],
    alphas: np.ndarray,
    dtype=np.float64,
) -> np.ndarray:
    """Mean held-out R² of every alpha and column over the inner grouped splits.

    The residuals of block ``B`` left out of the fit are exactly
    ``(I − H_BB)⁻¹ (y_B − ŷ_B)``, with full-fit residuals ``V diag(α/(λ+α)) Vᵀ y_c``: the
    inner CV costs one matrix product per alpha and no refit (the identity of
    leave-block-out for penalised least squares).  Applying the inverses as batched
    products is 3x faster than a batched solve with the columns as right-hand sides.

    Parameters
    ----------
    eig : Eigen
        Of the training kernel, shape (m,) and (m, m).
    Z : ndarray of shape (m, n_columns)
        ``Vᵀ y_c``.
    Yc : ndarray of shape (m, n_columns)
        Centred training labels.
    blocks : list of ndarray of int
        Held-out rows of each inner split.
    inverses : list of ndarray of shape (n_alphas, |B|, |B|)
        :func:`_held_out_inverses` of those blocks.
    alphas : ndarray of shape (n_alphas,)
    dtype : numpy dtype, default=float64
        Precision of the products (float32 is used for permuted labels).

    Returns
    -------
    ndarray of shape (n_alphas, n_columns)
    """
    lam, V = eig.values, eig.vectors
    Vd, Zd = V.astype(dtype, copy=False), Z.astype(dtype, copy=False)
    # full-fit residuals of every alpha at once, (n_alphas, m, n_columns)
    resid = Vd @ (Zd * (alphas[:, None] / (lam + alphas[:, None])).astype(dtype)[:, :, None])
    out = np.zeros((len(alphas), Z.shape[1]))
    for B, inverse in zip(blocks, inverses):
        held_out = inverse.astype(dtype, copy=False) @ resid[:, B]
        ss_res = np.einsum("aij,aij->aj", held_out, held_out, dtype=np.float64)
        yB = Yc[B]
        total = ((yB - yB.mean(axis=0)) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = 1 - ss_res / total
        out += np.where(total == 0, np.where(ss_res == 0, 1.0, 0.0), r2)
    return out / len(blocks)


def ridge_fold(
    G: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    Y: np.ndarray,
    groups: np.ndarray,
    *,
    alphas: np.ndarray,
    n_inner: int = 5,
    eig: Eigen | None = None,
    n_exact: int | None = None,
    blocks: Blocks | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out ridge predictions with alpha chosen per column by inner grouped CV.

    Equal to ``make_pipeline(StandardScaler(), GridSearchCV(Ridge(), {"alpha": alphas},
    cv=GroupKFold(n_inner), scoring="r2"))`` fitted on ``train`` with the training groups.

    Parameters
    ----------
    G : ndarray of shape (n, n)
        :func:`standardized_gram` of this fold.
    train, test : ndarray of int
    Y : ndarray of shape (n, n_columns)
        Label columns (targets and their permutations).
    groups : ndarray of shape (n,)
    alphas : ndarray of shape (n_alphas,)
    n_inner : int, default=5
    eig : Eigen, optional
        Decomposition of ``G[train][:, train]`` when the caller already has it.
    n_exact : int, optional
        Only the first ``n_exact`` columns (the real labels) choose alpha in float64; the
        others (permuted labels) in float32, twice as fast.  Default: all in float64.
    blocks : Blocks, optional
        The fold's kernel blocks when the caller already has them.

    Returns
    -------
    predictions : ndarray of shape (len(test), n_columns)
    best : ndarray of int, shape (n_columns,)
        Index of the chosen alpha per column (the first of ties, as ``GridSearchCV``).
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    blocks = blocks or Blocks.of(G, train, test)
    eig = eig or Eigen.of(blocks.K)
    y_mean = Y[train].mean(axis=0)
    Yc = Y[train] - y_mean
    Z = eig.vectors.T @ Yc  # (m, t)
    held_out = [held for _, held in inner_splits(groups[train], n_inner)]
    n_exact = Y.shape[1] if n_exact is None else n_exact
    scores = np.empty((len(alphas), Y.shape[1]))
    inverses = _held_out_inverses(eig, held_out, alphas)
    exact = slice(None, n_exact)
    scores[:, exact] = _inner_r2(eig, Z[:, exact], Yc[:, exact], held_out, inverses, alphas)
    if n_exact < Y.shape[1]:
        rest = slice(n_exact, None)
        scores[:, rest] = _inner_r2(
            eig, Z[:, rest], Yc[:, rest], held_out, inverses, alphas, np.float32
        )
    best = np.argmax(scores, axis=0)
    A = blocks.cross @ eig.vectors  # (r, m)
    pred = np.empty((len(test), Y.shape[1]))
    for a in np.unique(best):
        cols = np.flatnonzero(best == a)
        pred[:, cols] = A @ (Z[:, cols] / (eig.values + alphas[a])[:, None]) + y_mean[cols]
    return pred, best


def svm_fold(
    G: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    y: np.ndarray,
    *,
    C: float = 1.0,
    decision: bool = True,
    blocks: Blocks | None = None,
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Held-out predictions and decision values of libsvm (``None``: one training class).

    Parameters
    ----------
    G : ndarray of shape (n, n)
    train, test : ndarray of int
    y : ndarray of int, shape (n,)
        Class codes.
    C : float, default=1.0
    decision : bool, default=True
        Also return decision values (else ``None`` in their place).
    blocks : Blocks, optional
        The fold's kernel blocks when the caller already has them.

    Returns
    -------
    predictions : ndarray of int, shape (len(test),)
    decision : ndarray of shape (len(test),)
        Binary targets: ``decision_function`` (positive: the larger class code).
        Multi-class targets: the margin of the true class, its one-vs-rest-shaped decision
        value (``decision_function``: votes plus a confidence below 1/2) minus the largest
        of the other classes' (positive when the true class wins the vote outright);
        NaN for a test row whose class is absent from the training rows.
    """
    classes = np.unique(y[train])
    if len(classes) < 2:
        return None
    blocks = blocks or Blocks.of(G, train, test)
    model = fit_libsvm(blocks.K, y[train], C=C)
    cross = blocks.cross
    if len(classes) == 2 and decision:
        # libsvm votes for the first class when its own decision value (the negative of
        # scikit-learn's) is > 0: the same prediction as model.predict, one call fewer
        scores = model.decision_function(cross)
        return np.where(scores < 0, classes[0], classes[1]), scores
    pred = model.predict(cross)
    if not decision:
        return pred, None
    scores = model.decision_function(cross)
    where = np.minimum(np.searchsorted(classes, y[test]), len(classes) - 1)
    known = classes[where] == y[test]
    rows = np.arange(len(test))
    own = scores[rows, where]
    others = scores.copy()
    others[rows, where] = -np.inf
    return pred, np.where(known, own - others.max(axis=1), np.nan)


def ovo_columns(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binary problems of libsvm's one-vs-one scheme for many label columns.

    Parameters
    ----------
    labels : ndarray of int, shape (n_columns, m)
        Class codes of the training rows, one labelling per row of the array.

    Returns
    -------
    Y : ndarray of shape (n_problems, m)
        +1 for the first class of a pair, -1 for the second, 0 for rows of other classes.
    pairs : ndarray of int, shape (n_problems, 3)
        (column, first class, second class) of each problem; a column with a single
        training class has none.
    """
    n_cols, m = labels.shape
    n_classes = int(labels.max()) + 1 if labels.size else 0
    present = np.zeros((n_cols, n_classes), dtype=bool)
    present[np.arange(n_cols)[:, None], labels] = True
    Y, pairs = [], []
    for a in range(n_classes):
        for b in range(a + 1, n_classes):
            cols = np.flatnonzero(present[:, a] & present[:, b])
            if len(cols):
                block = labels[cols]
                Y.append((block == a).astype(np.float64) - (block == b))
                pairs.append(np.column_stack([cols, np.full(len(cols), a), np.full(len(cols), b)]))
    if not Y:
        return np.empty((0, m)), np.empty((0, 3), dtype=np.int64)
    return np.concatenate(Y), np.concatenate(pairs).astype(np.int64)


def svm_null_predictions(
    G: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    labels: np.ndarray,
    *,
    C: float = 1.0,
    device: str | None = None,
    blocks: Blocks | None = None,
) -> np.ndarray:
    """Held-out SVM predictions for many labellings at once (the permutation nulls).

    Every column is ``SVC(kernel="precomputed", C)`` on the same fold, solved together by
    :func:`core.probe.dual_svm.solve`; multi-class columns vote over their one-vs-one
    problems with libsvm's rule (a tie goes to the smaller class code).

    Parameters
    ----------
    G : ndarray of shape (n, n)
    train, test : ndarray of int
    labels : ndarray of int, shape (n, n_columns)
    C : float, default=1.0
    device : str, optional
        None solves with NumPy; a torch device (``"cuda"``, ``"cuda:1"``, ``"mps"``,
        ``"cpu"``) with torch there.
    blocks : Blocks, optional
        The fold's kernel blocks when the caller already has them.

    Returns
    -------
    ndarray of int, shape (len(test), n_columns)
        -1 for a column whose training rows hold a single class.
    """
    Y, pairs = ovo_columns(labels[train].T)
    out = np.full((len(test), labels.shape[1]), -1, dtype=np.int64)
    if not len(pairs):
        return out
    blocks = blocks or Blocks.of(G, train, test)
    K = blocks.K
    if device is not None:
        import torch

        solution = dual_svm.solve(
            torch.as_tensor(K, device=device), torch.as_tensor(Y, device=device), C=C
        )
    else:
        solution = dual_svm.solve(K, Y, C=C)
    cross = blocks.cross
    decision = cross @ solution.beta.T + solution.bias  # (r, n_problems)
    for j in np.flatnonzero(~solution.converged):  # rare: libsvm for what did not converge
        rows = np.flatnonzero(Y[j] != 0)
        model = fit_libsvm(K[np.ix_(rows, rows)], Y[j, rows], C=C, max_iter=FALLBACK_MAX_ITER)
        decision[:, j] = model.decision_function(cross[:, rows])
    column, first, second = pairs.T
    wins = decision > 0
    if len(np.unique(column)) == len(column):  # binary columns: one problem each
        out[:, column] = np.where(wins, first, second)
        return out
    n_classes = int(labels.max()) + 1
    votes = np.zeros((labels.shape[1], len(test), n_classes), dtype=np.int64)
    rows = np.arange(len(test))[:, None]
    np.add.at(votes, (column[None, :], rows, np.where(wins, first, second)), 1)
    has_problem = np.zeros(labels.shape[1], dtype=bool)
    has_problem[column] = True
    out[:, has_problem] = votes[has_problem].argmax(axis=2).T
    return out
