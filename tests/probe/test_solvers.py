"""The kernel-form solvers equal scikit-learn's estimators fold by fold on real activations."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC

from core.probe import (
    DEFAULT_ALPHAS,
    dual_svm,
    outer_folds,
    reference,
    solvers,
)


def _classification_targets(stimuli) -> list[str]:
    targets = [t for t, k in stimuli.targets.items() if k != "continuous"]
    assert targets  # a subset without class targets would check nothing
    return targets


@pytest.mark.slow
@pytest.mark.parametrize("component, layer", [("resid_pre", 3), ("attn_out", 14), ("mlp_out", 25)])
def test_svm_equals_sklearn_on_every_class_target(real, real_pairs, component, layer):
    """Binary (items) and multi-class (pairs ``relation``) targets, every fold."""
    for stimuli, acts in (real, real_pairs):
        X = acts[component][:, layer]
        fold = outer_folds(stimuli.groups)
        for target in _classification_targets(stimuli):
            y = stimuli.labels(target)
            for k in range(6):
                train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
                G = solvers.standardized_gram(X, train)
                ours, decision = solvers.svm_fold(G, train, test, y)
                theirs_decision, theirs = reference.svm_fold(X.astype(np.float64), y, train, test)
                np.testing.assert_array_equal(ours, theirs)
                if len(np.unique(y[train])) == 2:
                    np.testing.assert_allclose(decision, theirs_decision, rtol=1e-6, atol=1e-6)
                else:  # the true class's margin is positive where it wins the vote
                    untied = ~_vote_ties(G, train, test, y)
                    correct = ours == y[test]
                    assert ((decision > 0) == correct)[untied].all()


def _vote_ties(G, train, test, y) -> np.ndarray:
    """Test rows whose one-vs-one vote ties (libsvm then takes the smaller class)."""
    model = SVC(kernel="precomputed", decision_function_shape="ovo")
    model.fit(G[np.ix_(train, train)], y[train])
    values = model.decision_function(G[np.ix_(test, train)])
    k = len(model.classes_)
    votes = np.zeros((len(test), k))
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
    for j, (a, b) in enumerate(pairs):
        votes[:, a] += values[:, j] > 0
        votes[:, b] += values[:, j] <= 0
    top = votes.max(axis=1, keepdims=True)
    return (votes == top).sum(axis=1) > 1


@pytest.mark.slow
@pytest.mark.parametrize("component, layer", [("resid_pre", 5), ("mlp_out", 20)])
def test_ridge_equals_sklearn_on_real_activations(real, real_pairs, component, layer):
    checked = 0
    for stimuli, acts in (real, real_pairs):
        X = acts[component][:, layer].astype(np.float64)
        fold = outer_folds(stimuli.groups)
        # the pairs have no rating target today; the items' ratings are checked
        targets = [t for t, k in stimuli.targets.items() if k == "continuous"]
        checked += len(targets)
        for target in targets:
            y = stimuli.labels(target)
            for k in range(6):
                train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
                G = solvers.standardized_gram(X, train)
                ours, best = solvers.ridge_fold(
                    G, train, test, y[:, None], stimuli.groups, alphas=np.array(DEFAULT_ALPHAS)
                )
                theirs, alpha = reference.ridge_fold(
                    X, y, stimuli.groups, train, test, alphas=DEFAULT_ALPHAS
                )
                assert DEFAULT_ALPHAS[best[0]] == alpha
                np.testing.assert_allclose(
                    ours[:, 0], theirs, rtol=1e-6, atol=1e-9 * np.abs(y).max()
                )
    assert checked  # at least one rating target was compared


def test_ridge_inner_cv_by_block_deletion_equals_refits():
    """The block-deletion identity gives the held-out R² that refitting each split gives."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    n, d = 60, 90
    X = rng.normal(size=(n, d))
    Y = X[:, :3] @ rng.normal(size=(3, 4)) + rng.normal(size=(n, 4))
    groups = np.repeat(np.arange(20), 3)
    train = np.arange(n)
    G = solvers.standardized_gram(X, train)
    eig = solvers.Eigen.of(G)
    Yc = Y - Y.mean(axis=0)
    blocks = [held for _, held in solvers.inner_splits(groups, 5)]
    alphas = np.array([0.1, 10.0, 1000.0])
    inverses = solvers._held_out_inverses(eig, blocks, alphas)
    ours = solvers._inner_r2(eig, eig.vectors.T @ Yc, Yc, blocks, inverses, alphas)
    Z = (X - X.mean(0)) / X.std(0)
    for a, alpha in enumerate(alphas):
        for j in range(Y.shape[1]):
            scores = []
            for held in blocks:
                fit = np.setdiff1d(train, held)
                model = Ridge(alpha=alpha).fit(Z[fit], Y[fit, j])
                scores.append(r2_score(Y[held, j], model.predict(Z[held])))
            assert ours[a, j] == pytest.approx(np.mean(scores), rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("n_train, d", [(60, 150), (150, 40)], ids=["n<p", "n>p"])
@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_fit_libsvm_is_svc_to_the_bit(n_train, d, n_classes):
    """Predictions, decision values and iterations equal SVC's exactly, C and the cap too."""
    rng = np.random.default_rng(n_classes)
    X = rng.normal(size=(n_train + 25, d))
    y = rng.integers(0, n_classes, n_train + 25) * 3 + 1  # codes that are not 0..k-1
    train, test = np.arange(n_train), np.arange(n_train, n_train + 25)
    G = solvers.standardized_gram(X, train)
    K, cross = G[np.ix_(train, train)], G[np.ix_(test, train)]
    for C, cap in ((1.0, solvers.LIBSVM_MAX_ITER), (0.05, solvers.LIBSVM_MAX_ITER), (1.0, 7)):
        ours = solvers.fit_libsvm(K, y[train], C=C, max_iter=cap)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the cap of 7 iterations
            theirs = SVC(kernel="precomputed", C=C, max_iter=cap).fit(K, y[train])
        np.testing.assert_array_equal(ours.classes, theirs.classes_)
        np.testing.assert_array_equal(ours.n_iter, theirs.n_iter_)
        np.testing.assert_array_equal(ours.predict(cross), theirs.predict(cross))
        np.testing.assert_array_equal(
            ours.decision_function(cross), theirs.decision_function(cross)
        )
    assert (ours.n_iter == 7).all()  # the cap was reached, so it was tested


def test_null_predictions_vote_like_libsvm_on_many_classes():
    """The batched one-vs-one solver predicts what SVC predicts, ties included."""
    rng = np.random.default_rng(1)
    n, d = 90, 150
    X = rng.normal(size=(n, d))
    labels = np.column_stack([rng.integers(0, k, n) for k in (2, 3, 4, 4, 2)])
    train, test = np.arange(70), np.arange(70, n)
    G = solvers.standardized_gram(X, train)
    ours = solvers.svm_null_predictions(G, train, test, labels)
    agree = []
    for j in range(labels.shape[1]):
        model = SVC(kernel="precomputed").fit(G[np.ix_(train, train)], labels[train, j])
        agree.append(ours[:, j] == model.predict(G[np.ix_(test, train)]))
    print(f"agreement with SVC.predict: {np.mean(agree):.4f}")
    assert np.mean(agree) == 1.0


def _cycling_case() -> tuple[np.ndarray, np.ndarray]:
    """A kernel on which libsvm never converges, from a real run (SmolLM2, ``pairs``,
    pooling ``mean_x``, ``attn_out`` layer 16, fold 2, a permuted ``related`` column):
    280 training rows, only 145 distinct (each word stands in a related and an unrelated
    pair, so rows repeat with opposite labels).  The default run hung on it for good."""
    data = np.load(Path(__file__).parent / "data" / "libsvm_cycles.npz")
    X = data["rows"][data["index"]].astype(np.float64)
    return solvers.standardized_gram(X, np.arange(len(X))), data["y"].astype(np.int64)


def test_libsvm_is_capped_where_it_cycles_and_agrees_with_the_batched_solver():
    K, y = _cycling_case()
    model = solvers.fit_libsvm(K, y, max_iter=solvers.FALLBACK_MAX_ITER)
    assert model.n_iter.max() == solvers.FALLBACK_MAX_ITER  # it stopped at the cap, not done
    solution = dual_svm.solve(K, y[None, :].astype(np.float64))
    assert solution.converged.all()
    ours = K @ solution.beta[0] + solution.bias[0]
    agree = np.mean((ours > 0) == (model.decision_function(K) > 0))
    print(f"capped libsvm vs converged batched solver: {agree:.4f} of predictions agree")
    assert agree >= 0.99


def test_the_nulls_fallback_to_libsvm_ends_on_a_cycling_kernel(monkeypatch):
    """A column the batched solver leaves goes to libsvm, which must stop at its cap."""
    K, y = _cycling_case()
    solve = dual_svm.solve

    def not_converged(*args, **kwargs):
        solution = solve(*args, **kwargs)
        solution.converged[:] = False
        return solution

    monkeypatch.setattr(dual_svm, "solve", not_converged)
    rows = np.arange(len(y))
    labels = np.column_stack([(y > 0).astype(np.int64), (y < 0).astype(np.int64)])
    pred = solvers.svm_null_predictions(K, rows, rows, labels)
    assert pred.shape == (len(y), 2)
    assert np.mean(pred[:, 0] == labels[:, 0]) > 0.5 and (pred[:, 1] == 1 - pred[:, 0]).all()
