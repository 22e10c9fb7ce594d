"""The vectorised fold metrics equal scikit-learn's and SciPy's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score, balanced_accuracy_score, r2_score

from core.probe import (
    metrics,
)


def test_metrics_equal_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, (50, 4))
    p = rng.integers(0, 3, (50, 4))
    for j in range(4):
        assert metrics.accuracy(y, p)[j] == pytest.approx(accuracy_score(y[:, j], p[:, j]))
        assert metrics.balanced_accuracy(y, p)[j] == pytest.approx(
            balanced_accuracy_score(y[:, j], p[:, j])
        )
    yc, pc = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    for j in range(3):
        assert metrics.r2(yc, pc)[j] == pytest.approx(r2_score(yc[:, j], pc[:, j]))
        assert metrics.pearson_r(yc, pc)[j] == pytest.approx(pearsonr(yc[:, j], pc[:, j])[0])
