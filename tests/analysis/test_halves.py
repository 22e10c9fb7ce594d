"""The analogy effect: full minus the better half, per layer and per third, fold-paired."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis.halves import analogy_effect, effect_sentences, halves_of


def _folds(curves: dict[str, np.ndarray]) -> pd.DataFrame:
    """``{pooling: (n_folds, n_layers)}`` as fold-curve rows."""
    rows = []
    for pooling, matrix in curves.items():
        for f, row in enumerate(matrix):
            for layer, score in enumerate(row):
                rows.append(dict(pooling=pooling, fold=f, layer=layer, score=score))
    return pd.DataFrame(rows).assign(model="m", stimulus_set="analogies", component="resid_pre")


def test_effect_is_full_minus_the_better_half_at_each_layer():
    rng = np.random.default_rng(0)
    k, n = 6, 12
    ab = np.tile(np.linspace(0.1, 0.5, n), (k, 1)) + rng.normal(0, 0.01, (k, n))
    cd = np.tile(np.linspace(0.5, 0.1, n), (k, 1)) + rng.normal(0, 0.01, (k, n))
    gain = rng.normal(0.1, 0.02, (k, 1))  # each fold its own gain: the SE sees it
    chosen = np.where(ab.mean(0) >= cd.mean(0), 0, 1)
    full = np.where(chosen == 0, ab, cd) + gain
    per_layer, per_range = analogy_effect(_folds({"mean": full, "mean_ab": ab, "mean_cd": cd}))
    assert len(per_layer) == n
    better = np.where(ab.mean(0) >= cd.mean(0), "mean_ab", "mean_cd")
    assert list(per_layer["better_half"]) == list(better)
    np.testing.assert_allclose(per_layer["effect"], gain.mean(), atol=1e-9)
    np.testing.assert_allclose(per_layer["effect_se"], gain.std(ddof=1) / np.sqrt(k), rtol=1e-6)
    assert list(per_range["range"]) == ["early", "middle", "late"]
    assert list(per_range[["layer_lo", "layer_hi"]].itertuples(index=False, name=None)) == [
        (0, 3),
        (4, 7),
        (8, 11),
    ]
    np.testing.assert_allclose(per_range["effect"], gain.mean(), atol=1e-9)
    sentences = effect_sentences(per_range)
    assert len(sentences) == 1 and f"early layers 0-3: {gain.mean():+.3f}" in sentences[0]


def test_no_effect_when_the_full_curve_is_one_half():
    """Full = the c:d half (the label lives in c:d): the effect is zero or below."""
    rng = np.random.default_rng(1)
    cd = 0.4 + rng.normal(0, 0.05, (6, 20))
    ab = 0.1 + rng.normal(0, 0.05, (6, 20))
    _, per_range = analogy_effect(_folds({"mean": cd, "mean_ab": ab, "mean_cd": cd}))
    assert (per_range["effect"] <= 1e-12).all()


def test_groups_without_both_halves_are_skipped():
    k = np.ones((3, 4))
    per_layer, per_range = analogy_effect(_folds({"mean": k, "mean_ab": k}))
    assert per_layer.empty and per_range.empty
    assert halves_of(["mean", "mean_x", "mean_y"]) == ("mean_x", "mean_y")
    assert halves_of(["mean", "last"]) is None


@pytest.mark.parametrize("n_layers", [2, 30])
def test_every_layer_belongs_to_one_third(n_layers):
    k = np.zeros((3, n_layers))
    _, per_range = analogy_effect(_folds({"mean": k + 1, "mean_x": k, "mean_y": k}))
    covered = sum(r.layer_hi - r.layer_lo + 1 for r in per_range.itertuples())
    assert covered == n_layers
