"""Folds and halves: groups kept whole, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from core.probe import (
    FoldError,
    group_halves,
    outer_folds,
)


def test_folds_keep_groups_whole_and_are_deterministic():
    groups = np.repeat(np.arange(20), 3).astype(str)
    fold = outer_folds(groups, n_folds=6, seed=3)
    for g in np.unique(groups):
        assert len(set(fold[groups == g])) == 1
    assert np.array_equal(fold, outer_folds(groups, n_folds=6, seed=3))
    assert set(fold) == set(range(6))
    with pytest.raises(FoldError, match="only 5 distinct groups; grouped 6-fold CV"):
        outer_folds(groups[:15], n_folds=6)


def test_halves_split_groups_in_two():
    groups = np.repeat(np.arange(30), 2)
    for mask in group_halves(groups, n_splits=3, seed=0):
        assert set(groups[mask]).isdisjoint(groups[~mask])
        assert abs(mask.sum() - (~mask).sum()) <= 2
