"""Fold assignment and group halves (the permutation null is in ``permutations.py``).

Everything here is decided once per stimulus set and shared by every layer, component and
target, so results across layers are comparable and the null curves are coherent.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold

from core.errors import StrataError


class FoldError(StrataError, ValueError):
    """The groups cannot support the requested folds."""


def outer_folds(groups: np.ndarray, *, n_folds: int = 6, seed: int = 0) -> np.ndarray:
    """Fold index per row from ``GroupKFold(shuffle=True)``: deterministic, not alphabetical.

    Raises
    ------
    FoldError
        When there are fewer groups than folds.
    """
    groups = np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < n_folds:
        raise FoldError(
            f"only {n_groups} distinct groups; grouped {n_folds}-fold CV needs at least {n_folds}"
        )
    fold = np.empty(len(groups), dtype=np.int64)
    splitter = GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(splitter.split(groups, groups=groups)):
        fold[test] = k
    check_folds(groups, fold)
    return fold


def check_folds(groups: np.ndarray, fold: np.ndarray) -> None:
    """No group may sit in two folds (train and test of the same split): the leak check."""
    per_group = {}
    for g, f in zip(np.asarray(groups).tolist(), np.asarray(fold).tolist()):
        if per_group.setdefault(g, f) != f:
            raise FoldError(f"group '{g}' is in folds {per_group[g]} and {f}: folds leak")


def inner_splits(groups: np.ndarray, n_inner: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inner grouped splits for choosing ridge's alpha (``GroupKFold``, unshuffled, as sklearn)."""
    n_inner = min(n_inner, len(np.unique(groups)))
    return list(GroupKFold(n_splits=n_inner).split(groups, groups=groups))


def group_halves(groups: np.ndarray, *, n_splits: int, seed: int = 0) -> list[np.ndarray]:
    """Random halvings of the groups: a boolean mask of half A per split.

    Curves from two independent halves let the split-half anti-persistence estimator tell
    structure from noise.
    """
    groups = np.asarray(groups)
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_splits):
        chosen = rng.permutation(unique)[: len(unique) // 2]
        out.append(np.isin(groups, chosen))
    return out
