"""Linear CKA and layer × layer correlations, on matrices with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis import (
    cka_matrix,
    layer_correlation,
    linear_cka,
)


def test_linear_cka_identity_rotation_and_scale():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 20))
    Q, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    assert linear_cka(X, X) == pytest.approx(1.0)
    assert linear_cka(X, 3.5 * X @ Q) == pytest.approx(1.0)
    assert linear_cka(X, rng.normal(size=(50, 20))) < 0.6
    acts = np.stack([X, X @ Q, rng.normal(size=(50, 20))], axis=1)
    matrix = cka_matrix(acts)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    assert matrix.iloc[0, 1] == pytest.approx(1.0) and matrix.iloc[0, 2] < 0.6
    np.testing.assert_allclose(matrix.to_numpy(), matrix.to_numpy().T)


def test_layer_correlation_shows_alternation_as_a_checkerboard():
    rows = []
    rng = np.random.default_rng(1)
    for t in range(12):
        phase = rng.normal(size=10)
        for layer in range(10):
            rows.append(
                dict(
                    target=f"t{t}",
                    layer=layer,
                    score=0.6 + 0.1 * phase[layer] * (-1) ** layer,
                    chance=0.5,
                )
            )
    matrix = layer_correlation(pd.DataFrame(rows), zscore=True)
    assert matrix.shape == (10, 10)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
