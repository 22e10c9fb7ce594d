"""The kernel-form solvers equal scikit-learn's estimators fold by fold on real activations."""

from __future__ import annotations

import numpy as np
import pytest

from core.probe import (
    DEFAULT_ALPHAS,
    outer_folds,
    reference,
    solvers,
)


@pytest.mark.slow
@pytest.mark.parametrize("component, layer", [("resid_pre", 3), ("attn_out", 14), ("mlp_out", 25)])
def test_svm_equals_sklearn_on_real_activations(real, component, layer):
    stimuli, acts = real
    X = acts[component][:, layer]
    fold = outer_folds(stimuli.groups)
    targets = [t for t, k in stimuli.targets.items() if k != "continuous"]
    assert targets  # a subset without class targets would check nothing
    for target in targets:
        y = stimuli.labels(target)
        for k in range(6):
            train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
            G = solvers.standardized_gram(X, train)
            ours = solvers.svm_fold(G, train, test, y)
            _, theirs = reference.svm_fold(X.astype(np.float64), y, train, test)
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.slow
@pytest.mark.parametrize("component, layer", [("resid_pre", 5), ("mlp_out", 20)])
def test_ridge_equals_sklearn_on_real_activations(real, component, layer):
    stimuli, acts = real
    X = acts[component][:, layer].astype(np.float64)
    fold = outer_folds(stimuli.groups)
    targets = [t for t, k in stimuli.targets.items() if k == "continuous"]
    assert targets
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
            np.testing.assert_allclose(ours[:, 0], theirs, rtol=1e-6, atol=1e-9 * np.abs(y).max())
