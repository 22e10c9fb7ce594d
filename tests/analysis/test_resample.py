"""Scores recomputed from per-stimulus predictions, against scikit-learn and SciPy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import balanced_accuracy_score

from core.analysis import resample
from tests.analysis.synthetic import prediction_rows, simulate_predictions


def test_group_sums_give_sklearn_balanced_accuracy_and_scipy_pearson_on_any_resample():
    rng = np.random.default_rng(0)
    n, n_layers, n_groups = 240, 4, 40
    group = rng.integers(0, n_groups, n)
    labels = rng.integers(0, 3, n)
    guess = np.where(rng.random((n, n_layers)) < 0.6, labels[:, None], rng.integers(0, 3, (n, 4)))
    truth = rng.normal(size=n)
    fitted = truth[:, None] + rng.normal(size=(n, n_layers))
    classes = resample.group_sums(labels, guess, group, n_groups, "classification")
    ratings = resample.group_sums(truth, fitted, group, n_groups, "continuous")
    weights = np.vstack([np.ones(n_groups), resample.group_weights(n_groups, 3, rng)])
    got_classes = resample.normalized_scores(classes, weights)
    got_ratings = resample.normalized_scores(ratings, weights)
    for b, w in enumerate(weights):
        rows = np.repeat(np.arange(n), w[group].astype(int))  # the resample, written out
        for layer in range(n_layers):
            bacc = balanced_accuracy_score(labels[rows], guess[rows, layer])
            assert got_classes[b, layer] == pytest.approx((bacc - 1 / 3) / (2 / 3))
            r = pearsonr(truth[rows], fitted[rows, layer])[0]
            assert got_ratings[b, layer] == pytest.approx(r)


def test_group_weights_draw_as_many_groups_as_there_are():
    weights = resample.group_weights(30, 200, np.random.default_rng(1))
    assert weights.shape == (200, 30) and (weights.sum(axis=1) == 30).all()
    assert weights.mean() == pytest.approx(1.0, abs=0.05)


def test_set_predictions_read_item_predictions_rows_and_name_missing_groups():
    rng = np.random.default_rng(2)
    accuracy = np.tile(np.linspace(0.6, 0.9, 8), (2, 1))
    y_true, y_pred, group = simulate_predictions(rng, accuracy, n_groups=20, per_group=5)
    rows, folds = prediction_rows(y_true, y_pred, group)
    groups = folds.set_index("item_id")["group"]
    data = resample.set_predictions(rows, groups, targets=["t0", "t1", "absent"])
    assert data.targets == ["t0", "t1"] and data.n_groups == 20
    curve = resample.mean_curves(data, np.ones((1, 20)))[0]
    expected = np.mean(
        [
            [2 * balanced_accuracy_score(y_true[t], y_pred[t, :, layer]) - 1 for layer in range(8)]
            for t in range(2)
        ],
        axis=0,
    )
    np.testing.assert_allclose(curve, expected)
    with pytest.raises(ValueError, match="have no group"):
        resample.set_predictions(rows, groups.iloc[1:], targets=["t0"])
    assert resample.infer_kind(np.array([0.0, 1.0, 1.0])) == "classification"
    assert resample.infer_kind(np.array([0.3, 1.7, 2.2])) == "continuous"
    assert isinstance(rows, pd.DataFrame) and set(rows["fold"]) == set(range(6))
